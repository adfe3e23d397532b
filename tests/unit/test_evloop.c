/* test_evloop: the epoll loop: readiness, deadlines, deletes during a round, posted tasks. */
#include <ibx/clock.h>
#include <ibx/evloop.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

struct probe {
    struct evl_watch w;
    int calls;
    unsigned last;
    struct evl_watch *victim; /* deleted by this watch's callback */
};

static void probe_cb(struct evl_watch *w, unsigned events)
{
    struct probe *p = w->ctx;
    p->calls++;
    p->last = events;
    if (p->victim)
        evl_del(p->victim);
    char b[16];
    if (events & EVL_IN)
        (void)!read(w->fd, b, sizeof(b));
}

static void probe_init(struct probe *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->w.fd = fd;
    p->w.cb = probe_cb;
    p->w.ctx = p;
}

static void test_readable_and_deadline(void **state)
{
    struct evl *l = NULL;
    int sv[2];
    assert_int_equal(evl_new(&l), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct probe p;
    probe_init(&p, sv[0]);
    assert_int_equal(evl_add(l, &p.w, EVL_IN), 0);
    assert_int_equal(evl_run_once(l, 0), 0); /* nothing yet */
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(evl_run_once(l, 1000), 1);
    assert_int_equal(p.calls, 1);
    assert_true(p.last & EVL_IN);
    /* a deadline fires once with events 0, and bounds the wait */
    int64_t t0 = clock_mono_ms();
    p.w.deadline_ms = t0 + 30;
    assert_int_equal(evl_run_once(l, 5000), 1);
    assert_true(clock_mono_ms() - t0 < 2000);
    assert_int_equal(p.calls, 2);
    assert_int_equal(p.last, 0);
    assert_int_equal(p.w.deadline_ms, 0);
    evl_del(&p.w);
    evl_del(&p.w); /* twice is fine */
    close(sv[0]);
    close(sv[1]);
    evl_free(l);
}

/* A callback deletes another watch whose event is pending in the same round. */
static void test_delete_during_round(void **state)
{
    struct evl *l = NULL;
    int a[2], b[2];
    assert_int_equal(evl_new(&l), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    struct probe pa, pb;
    probe_init(&pa, a[0]);
    probe_init(&pb, b[0]);
    pa.victim = &pb.w;
    pb.victim = &pa.w;
    assert_int_equal(evl_add(l, &pa.w, EVL_IN), 0);
    assert_int_equal(evl_add(l, &pb.w, EVL_IN), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(evl_run_once(l, 1000), 1); /* the first deletes the second */
    assert_int_equal(pa.calls + pb.calls, 1);
    evl_del(&pa.w);
    evl_del(&pb.w);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    evl_free(l);
}

static void count_task(void *arg)
{
    (*(int *)arg)++;
}

struct poster {
    struct evl *l;
    int *counter;
};

static void *post_from_thread(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < 100; i++)
        assert_int_equal(evl_post(p->l, count_task, p->counter), 0);
    return NULL;
}

static void test_posted_tasks_and_current(void **state)
{
    struct evl *l = NULL;
    assert_int_equal(evl_new(&l), 0);
    assert_null(evl_current());
    evl_set_current(l);
    assert_ptr_equal(evl_current(), l);
    int counter = 0;
    struct poster p = {l, &counter};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, post_from_thread, &p), 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 10 && counter < 100; i++)
        evl_run_once(l, 100);
    assert_int_equal(counter, 100); /* every task ran, on this thread */
    evl_wake(l);
    assert_int_equal(evl_run_once(l, 5000), 0); /* a wake alone runs nothing */
    evl_set_current(NULL);
    evl_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readable_and_deadline),
        cmocka_unit_test(test_delete_during_round),
        cmocka_unit_test(test_posted_tasks_and_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
