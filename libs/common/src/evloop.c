/* evloop: one epoll loop per thread with watches, deadlines and posted tasks. */
#include <ibx/evloop.h>

#include <ibx/clock.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVL_BATCH 64

struct evl_task {
    struct evl_task *next;
    void (*fn)(void *arg);
    void *arg;
};

struct evl {
    int epfd;
    int wakefd;
    struct evl_watch *watches; /* every added watch (deadlines are scanned here) */
    struct epoll_event ev[EVL_BATCH];
    int nev, iev; /* events of the current round, and the next to dispatch */
    pthread_mutex_t mu;
    struct evl_task *tasks, *tasks_tail;
};

static _Thread_local struct evl *evl_this;

struct evl *evl_current(void)
{
    return evl_this;
}

void evl_set_current(struct evl *l)
{
    evl_this = l;
}

int evl_new(struct evl **out)
{
    struct evl *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l}; /* the loop itself: wake */
    if (l->epfd < 0 || l->wakefd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->wakefd >= 0)
            close(l->wakefd);
        free(l);
        return -EIO;
    }
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return 0;
}

void evl_free(struct evl *l)
{
    if (!l)
        return;
    while (l->tasks) {
        struct evl_task *t = l->tasks;
        l->tasks = t->next;
        free(t);
    }
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static uint32_t evl_bits(unsigned events)
{
    uint32_t e = 0;
    if (events & EVL_IN)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & EVL_OUT)
        e |= EPOLLOUT;
    if (events & EVL_ET)
        e |= EPOLLET;
    return e;
}

int evl_add(struct evl *l, struct evl_watch *w, unsigned events)
{
    struct epoll_event ev = {.events = evl_bits(events), .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0)
        return -errno;
    w->loop = l;
    w->prev = NULL;
    w->next = l->watches;
    if (l->watches)
        l->watches->prev = w;
    l->watches = w;
    return 0;
}

int evl_mod(struct evl_watch *w, unsigned events)
{
    struct epoll_event ev = {.events = evl_bits(events), .data.ptr = w};
    if (!w->loop)
        return -EINVAL;
    return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0 ? 0 : -errno;
}

void evl_del(struct evl_watch *w)
{
    struct evl *l = w->loop;
    if (!l)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    for (int i = l->iev; i < l->nev; i++) { /* drop its pending event of this round */
        if (l->ev[i].data.ptr == w)
            l->ev[i].data.ptr = NULL;
    }
    if (w->prev)
        w->prev->next = w->next;
    else
        l->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->loop = NULL;
}

int evl_post(struct evl *l, void (*fn)(void *arg), void *arg)
{
    struct evl_task *t = malloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&l->mu);
    if (l->tasks_tail)
        l->tasks_tail->next = t;
    else
        l->tasks = t;
    l->tasks_tail = t;
    pthread_mutex_unlock(&l->mu);
    evl_wake(l);
    return 0;
}

void evl_wake(struct evl *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof(one));
    (void)w; /* a full counter already wakes the loop */
}

/* The wake fd fired: drain it and run the posted tasks. */
static int evl_run_tasks(struct evl *l)
{
    uint64_t n;
    ssize_t r = read(l->wakefd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&l->mu);
    struct evl_task *t = l->tasks;
    l->tasks = l->tasks_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    int ran = 0;
    while (t) {
        struct evl_task *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
        ran++;
    }
    return ran;
}

/* Milliseconds until the first deadline (capped by timeout_ms; -1 = none). */
static int evl_timeout(const struct evl *l, int timeout_ms, int64_t now)
{
    for (const struct evl_watch *w = l->watches; w; w = w->next) {
        if (!w->deadline_ms)
            continue;
        int64_t d = w->deadline_ms - now;
        if (d < 0)
            d = 0;
        if (timeout_ms < 0 || d < timeout_ms)
            timeout_ms = (int)d;
    }
    return timeout_ms;
}

/* Call the watches whose deadline passed (each may delete itself or others). */
static int evl_expire(struct evl *l, int64_t now)
{
    int ran = 0;
    int again = 1;
    while (again) {
        again = 0;
        for (struct evl_watch *w = l->watches; w; w = w->next) {
            if (!w->deadline_ms || w->deadline_ms > now)
                continue;
            w->deadline_ms = 0;
            w->cb(w, 0);
            ran++;
            again = 1; /* the list may have changed: start over */
            break;
        }
    }
    return ran;
}

int evl_run_once(struct evl *l, int timeout_ms)
{
    int t = evl_timeout(l, timeout_ms, clock_mono_ms());
    int n = epoll_wait(l->epfd, l->ev, EVL_BATCH, t);
    int ran = 0;
    l->nev = n > 0 ? n : 0;
    for (l->iev = 0; l->iev < l->nev;) {
        struct epoll_event *e = &l->ev[l->iev++];
        if (e->data.ptr == l) {
            ran += evl_run_tasks(l);
            continue;
        }
        struct evl_watch *w = e->data.ptr;
        if (!w)
            continue; /* deleted during this round */
        unsigned ev = 0;
        if (e->events & (EPOLLIN | EPOLLRDHUP))
            ev |= EVL_IN;
        if (e->events & EPOLLOUT)
            ev |= EVL_OUT;
        if (e->events & EPOLLERR)
            ev |= EVL_ERR;
        if (e->events & EPOLLHUP)
            ev |= EVL_HUP;
        w->cb(w, ev);
        ran++;
    }
    l->nev = l->iev = 0;
    return ran + evl_expire(l, clock_mono_ms());
}
