# restore module
