# backup module
