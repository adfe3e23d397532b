/* test_jobs: the elastic worker pool: blocking jobs never wait for each other below the
 * thread limit, jobs queue beyond it, and freeing waits for all of them. */
#include <ibx/jobs.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    atomic_int running, peak, done;
};

struct gated_job {
    struct jobs_item it;
    struct gate *g;
};

/* Blocks until the gate opens: counts how many run at once. */
static void gated(struct jobs_item *it)
{
    struct gated_job *j = (struct gated_job *)it;
    struct gate *g = j->g;
    int now = atomic_fetch_add(&g->running, 1) + 1;
    int peak = atomic_load(&g->peak);
    while (now > peak && !atomic_compare_exchange_weak(&g->peak, &peak, now))
        ;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_sub(&g->running, 1);
    atomic_fetch_add(&g->done, 1);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void run_gated(unsigned max_threads, int njobs, int want_peak)
{
    struct jobs *p = NULL;
    assert_int_equal(jobs_new(1, max_threads, 50, &p), 0);
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct gated_job *js = calloc((size_t)njobs, sizeof(*js));
    for (int i = 0; i < njobs; i++) {
        js[i].it.fn = gated;
        js[i].g = &g;
        jobs_post(p, &js[i].it);
    }
    for (int i = 0; i < 500 && atomic_load(&g.running) < want_peak; i++)
        usleep(2000);
    assert_int_equal(atomic_load(&g.running), want_peak);
    assert_int_equal(jobs_pending(p), (unsigned)njobs);
    gate_open(&g);
    jobs_free(p); /* waits for every job */
    assert_int_equal(atomic_load(&g.done), njobs);
    assert_int_equal(atomic_load(&g.peak), want_peak);
    free(js);
}

static void test_blocking_jobs_get_threads(void **state)
{
    run_gated(64, 20, 20); /* 20 blocked jobs: 20 threads */
}

static void test_queue_past_the_limit(void **state)
{
    run_gated(4, 12, 4); /* at most 4 at once, the rest wait their turn */
}

static void test_bad_arguments(void **state)
{
    struct jobs *p = NULL;
    assert_int_equal(jobs_new(0, 0, 10, &p), -EINVAL);
    assert_int_equal(jobs_new(5, 2, 10, &p), -EINVAL);
    jobs_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_jobs_get_threads),
        cmocka_unit_test(test_queue_past_the_limit),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
