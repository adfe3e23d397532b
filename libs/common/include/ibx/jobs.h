/* jobs: an elastic pool of threads for work that may block (database calls, password
 * hashing, upstream reads, Server-Sent Events waiting for news).
 *
 * A job is a struct jobs_item embedded in the caller's own structure, so posting never
 * allocates and never fails. A job never waits for a free thread while fewer than
 * max_threads exist: when every thread is busy a new one starts; a thread idle for
 * linger_ms ends (min_threads stay). Past max_threads jobs queue in order. */
#ifndef IBX_JOBS_H
#define IBX_JOBS_H

struct jobs;

struct jobs_item {
    void (*fn)(struct jobs_item *it); /* runs on a pool thread; may free it */
    struct jobs_item *next;           /* the pool's */
};

/* 0 and *out, -ENOMEM, -EINVAL (max_threads 0 or min_threads > max_threads). */
int jobs_new(unsigned min_threads, unsigned max_threads, int linger_ms, struct jobs **out)
    __attribute__((warn_unused_result));
/* Queue it (it->fn set by the caller). Any thread, including a pool thread. */
void jobs_post(struct jobs *j, struct jobs_item *it);
/* Jobs queued or running right now. */
unsigned jobs_pending(struct jobs *j);
/* Run every queued job, wait for the running ones, end the threads and free. NULL ok. */
void jobs_free(struct jobs *j);

#endif
