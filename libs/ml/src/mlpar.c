/* mlpar: deterministic chunked parallel loops on short-lived threads; control helpers. */
#include <ibx/mlpar.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAX_THREADS 256

struct pool {
    mlpar_fn fn;
    void *ctx;
    size_t nchunks;
    atomic_size_t next;
};

int mlpar_threads(const struct ml_control *ctl)
{
    int t = ctl ? ctl->threads : 0;
    if (t <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        t = cpus > 0 ? (int)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1;
    }
    return t < MAX_THREADS ? t : MAX_THREADS;
}

static void *worker(void *arg)
{
    struct pool *pl = arg;
    for (;;) {
        size_t c = atomic_fetch_add(&pl->next, 1);
        if (c >= pl->nchunks)
            break;
        pl->fn(pl->ctx, c);
    }
    return NULL;
}

void mlpar_run(int threads, size_t nchunks, mlpar_fn fn, void *ctx)
{
    struct pool pl = {.fn = fn, .ctx = ctx, .nchunks = nchunks};
    atomic_init(&pl.next, 0);
    size_t want = threads > 1 ? (size_t)threads : 1;
    if (want > nchunks)
        want = nchunks;
    if (want > MAX_THREADS)
        want = MAX_THREADS;
    pthread_t tid[MAX_THREADS];
    size_t started = 0;
    while (started + 1 < want && pthread_create(&tid[started], NULL, worker, &pl) == 0)
        started++;
    worker(&pl);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
}

int mlpar_cancelled(const struct ml_control *ctl)
{
    return ctl && ctl->cancel && *ctl->cancel;
}

void mlpar_progress(const struct ml_control *ctl, size_t done, size_t total)
{
    if (ctl && ctl->progress)
        ctl->progress(ctl->ctx, done, total);
}
