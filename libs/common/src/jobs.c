/* jobs: elastic thread pool for blocking work, with intrusive (allocation-free) jobs. */
#include <ibx/jobs.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct jobs {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a thread ended */
    struct jobs_item *head, *tail;
    unsigned min_threads, max_threads;
    int linger_ms;
    unsigned threads; /* alive */
    unsigned idle;    /* alive and waiting for a job */
    unsigned queued;  /* waiting for a thread */
    unsigned pending; /* queued + running */
    int stop;
};

int jobs_new(unsigned min_threads, unsigned max_threads, int linger_ms, struct jobs **out)
{
    if (max_threads == 0 || min_threads > max_threads)
        return -EINVAL;
    struct jobs *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->work, &ca);
    pthread_cond_init(&j->done, NULL);
    pthread_condattr_destroy(&ca);
    j->min_threads = min_threads;
    j->max_threads = max_threads;
    j->linger_ms = linger_ms > 0 ? linger_ms : 1;
    *out = j;
    return 0;
}

static void jobs_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Wait for a job (mu held). NULL when this thread should end. */
static struct jobs_item *jobs_take(struct jobs *j)
{
    while (!j->head) {
        if (j->stop)
            return NULL;
        struct timespec ts;
        jobs_deadline(&ts, j->linger_ms);
        j->idle++;
        int rc = pthread_cond_timedwait(&j->work, &j->mu, &ts);
        j->idle--;
        if (rc == ETIMEDOUT && !j->head && j->threads > j->min_threads)
            return NULL;
    }
    struct jobs_item *it = j->head;
    j->head = it->next;
    if (!j->head)
        j->tail = NULL;
    j->queued--;
    return it;
}

static void *jobs_thread(void *arg)
{
    struct jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        struct jobs_item *it = jobs_take(j);
        if (!it)
            break;
        pthread_mutex_unlock(&j->mu);
        it->fn(it); /* it may be freed here */
        pthread_mutex_lock(&j->mu);
        j->pending--;
        if (j->pending == 0)
            pthread_cond_broadcast(&j->done);
    }
    j->threads--;
    pthread_cond_broadcast(&j->done);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Start one more thread (mu held). 0 or -EAGAIN. */
static int jobs_spawn(struct jobs *j)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &a, jobs_thread, j);
    pthread_attr_destroy(&a);
    if (rc != 0)
        return -EAGAIN;
    j->threads++;
    return 0;
}

void jobs_post(struct jobs *j, struct jobs_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = it;
    else
        j->head = it;
    j->tail = it;
    j->pending++;
    j->queued++;
    /* queued jobs beyond the idle threads each get a thread of their own */
    if (j->queued > j->idle && j->threads < j->max_threads && jobs_spawn(j) != 0 &&
        j->threads == 0) {
        /* no thread at all and none can start: run it here rather than never */
        j->head = j->tail = NULL; /* it is the only job: nobody could take any */
        j->queued = 0;
        pthread_mutex_unlock(&j->mu);
        it->fn(it);
        pthread_mutex_lock(&j->mu);
        j->pending--;
        pthread_cond_broadcast(&j->done);
    } else {
        pthread_cond_signal(&j->work);
    }
    pthread_mutex_unlock(&j->mu);
}

unsigned jobs_pending(struct jobs *j)
{
    pthread_mutex_lock(&j->mu);
    unsigned n = j->pending;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    while (j->pending > 0)
        pthread_cond_wait(&j->done, &j->mu);
    j->stop = 1;
    pthread_cond_broadcast(&j->work);
    while (j->threads > 0)
        pthread_cond_wait(&j->done, &j->mu);
    pthread_mutex_unlock(&j->mu);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->done);
    pthread_mutex_destroy(&j->mu);
    free(j);
}
