/* registry: the models loaded in memory, by owner, name and version, with references. */
#include "serving.h"

#include <stdlib.h>
#include <string.h>

void reg_init(struct sv_registry *r)
{
    pthread_mutex_init(&r->mu, NULL);
    r->head = NULL;
}

void reg_entry_free(struct sv_entry *e)
{
    if (!e)
        return;
    model_free(e->model);
    free(e);
}

void reg_fini(struct sv_registry *r)
{
    struct sv_entry *e = r->head;
    while (e) {
        struct sv_entry *next = e->next;
        reg_entry_free(e);
        e = next;
    }
    r->head = NULL;
    pthread_mutex_destroy(&r->mu);
}

void reg_add(struct sv_registry *r, struct sv_entry *e)
{
    e->refs = 1;
    pthread_mutex_lock(&r->mu);
    e->next = r->head;
    r->head = e;
    pthread_mutex_unlock(&r->mu);
}

struct sv_entry *reg_get(struct sv_registry *r, const char *user_id, const char *name, int version)
{
    struct sv_entry *best = NULL;
    pthread_mutex_lock(&r->mu);
    for (struct sv_entry *e = r->head; e; e = e->next) {
        if (strcmp(e->user_id, user_id) != 0 || strcmp(e->name, name) != 0)
            continue;
        if (version ? e->version == version : !best || e->version > best->version)
            best = e;
    }
    if (best)
        best->refs++;
    pthread_mutex_unlock(&r->mu);
    return best;
}

void reg_put(struct sv_registry *r, struct sv_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&r->mu);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        reg_entry_free(e);
}

int reg_remove(struct sv_registry *r, const char *user_id, const char *name)
{
    struct sv_entry *gone = NULL;
    int n = 0;
    pthread_mutex_lock(&r->mu);
    struct sv_entry **pp = &r->head;
    while (*pp) {
        struct sv_entry *e = *pp;
        if (strcmp(e->user_id, user_id) == 0 && strcmp(e->name, name) == 0) {
            *pp = e->next;
            e->next = gone;
            gone = e;
            n++;
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&r->mu);
    while (gone) {
        struct sv_entry *next = gone->next;
        reg_put(r, gone);
        gone = next;
    }
    return n;
}
