/* jobwatch: a claimed job's watch thread: lease checks, heartbeats, the cancel flag. */
#include <ibx/jobwatch.h>

#include <ibx/clock.h>
#include <ibx/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct jobwatch {
    struct jobwatch_opts o;
    char request_id[72];
    volatile int *cancel;
    atomic_int why;
    pthread_t thread;
    pthread_mutex_t mu; /* guards done (and the cv) */
    pthread_cond_t cv;
    int done;
};

void jobwatch_stop_with(struct jobwatch *w, enum jobwatch_why why)
{
    if (!w)
        return;
    int going = JOBWATCH_GOING;
    atomic_compare_exchange_strong(&w->why, &going, (int)why);
    *w->cancel = 1;
}

enum jobwatch_why jobwatch_why(const struct jobwatch *w)
{
    return w ? (enum jobwatch_why)atomic_load(&((struct jobwatch *)w)->why) : JOBWATCH_GOING;
}

/* Wait period_ms or until done; 1 when done. Called with mu held. */
static int jobwatch_wait(struct jobwatch *w)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (w->o.period_ms % 1000) * 1000000L;
    until.tv_sec += w->o.period_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
        ;
    return w->done;
}

static void *jobwatch_main(void *arg)
{
    struct jobwatch *w = arg;
    log_set_request_id(w->request_id);
    int64_t last_beat = clock_mono_ms();
    pthread_mutex_lock(&w->mu);
    while (!jobwatch_wait(w)) {
        pthread_mutex_unlock(&w->mu);
        if (w->o.stopping && *w->o.stopping)
            jobwatch_stop_with(w, JOBWATCH_STOPPING);
        else if (w->o.still_mine(w->o.ctx) == -ECANCELED)
            jobwatch_stop_with(w, JOBWATCH_LOST);
        else if (clock_mono_ms() - last_beat >= w->o.beat_ms) {
            int rc = w->o.heartbeat(w->o.ctx);
            if (rc == 0)
                last_beat = clock_mono_ms();
            else if (rc == -ECANCELED)
                jobwatch_stop_with(w, JOBWATCH_LOST);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int jobwatch_start(const struct jobwatch_opts *o, volatile int *cancel, struct jobwatch **out)
{
    if (!o || !o->still_mine || !o->heartbeat || !cancel || o->period_ms < 10 ||
        o->beat_ms < o->period_ms)
        return -EINVAL;
    struct jobwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->o = *o;
    w->cancel = cancel;
    atomic_init(&w->why, JOBWATCH_GOING);
    snprintf(w->request_id, sizeof(w->request_id), "%s", o->request_id ? o->request_id : "");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* jobwatch_wait uses the monotonic clock */
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, jobwatch_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -EAGAIN;
    }
    *out = w;
    return 0;
}

enum jobwatch_why jobwatch_end(struct jobwatch *w)
{
    if (!w)
        return JOBWATCH_GOING;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    enum jobwatch_why why = (enum jobwatch_why)atomic_load(&w->why);
    free(w);
    return why;
}
