/* Owns the memory of finished files, folders and fetch batches: the walker allocates them
 * (a file's path and metadata strings come from the walker's tree reads too), but a worker
 * usually finishes them. Freed on the worker, each went back to the walker's malloc arena
 * under that arena's lock, which the walker allocating the next files held: an off-CPU
 * profile of a 50 000-file restore counted 35 to 196 waits on it in free() from
 * rs_file_done. Instead the workers push what they finish onto lock-free lists that the
 * walker empties before each file it creates (and once the workers have stopped), so
 * everything is freed by the thread that made it. Only the walker takes a whole list at
 * once, so the pushes need no ABA care. */
#include "restore/restore-internal.h"

#include <stdlib.h>

#include "util/banned.h"

void rs_file_bury(struct rs *s, struct rfile *f)
{
	struct rfile *head = atomic_load_explicit(&s->dead, memory_order_relaxed);

	do
		f->next_dead = head;
	while (!atomic_compare_exchange_weak_explicit(&s->dead, &head, f, memory_order_release,
	                                              memory_order_relaxed));
}

void rs_dir_bury(struct rs *s, struct rdir *d)
{
	struct rdir *head = atomic_load_explicit(&s->dead_dirs, memory_order_relaxed);

	do
		d->next_dead = head;
	while (!atomic_compare_exchange_weak_explicit(&s->dead_dirs, &head, d,
	                                              memory_order_release,
	                                              memory_order_relaxed));
}

void rs_batch_bury(struct rs *s, struct rbatch *b)
{
	struct rbatch *head = atomic_load_explicit(&s->dead_batches, memory_order_relaxed);

	do
		b->next_dead = head;
	while (!atomic_compare_exchange_weak_explicit(&s->dead_batches, &head, b,
	                                              memory_order_release,
	                                              memory_order_relaxed));
}

void rs_reap(struct rs *s)
{
	struct rfile *f = atomic_exchange_explicit(&s->dead, NULL, memory_order_acquire);
	struct rdir *d = atomic_exchange_explicit(&s->dead_dirs, NULL, memory_order_acquire);
	struct rbatch *b =
	    atomic_exchange_explicit(&s->dead_batches, NULL, memory_order_acquire);

	while (f) {
		struct rfile *next = f->next_dead;

		node_release(&f->meta);
		free(f->path);
		free(f);
		f = next;
	}
	while (d) {
		struct rdir *next = d->next_dead;

		node_release(&d->meta);
		free(d->path);
		free(d);
		d = next;
	}
	while (b) {
		struct rbatch *next = b->next_dead;

		free(b->v);
		free(b);
		b = next;
	}
}
