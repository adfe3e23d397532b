/* log: structured JSON lines on stderr with a thread-local request id. */
#include <ibx/log.h>
#include <ibx/clock.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char log_svc[64] = "ibx";
static enum log_level log_min = LOG_LVL_INFO;
static int log_fd = 2;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char log_rid[65];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *service, enum log_level min)
{
    snprintf(log_svc, sizeof(log_svc), "%s", service ? service : "ibx");
    log_min = min;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } names[] = {{"debug", LOG_LVL_DEBUG},
                 {"info", LOG_LVL_INFO},
                 {"warn", LOG_LVL_WARN},
                 {"warning", LOG_LVL_WARN},
                 {"error", LOG_LVL_ERROR}};
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lvl;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_request_id(const char *rid)
{
    snprintf(log_rid, sizeof(log_rid), "%s", rid ? rid : "");
}

const char *log_request_id(void)
{
    return log_rid;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_is_secret_name(const char *name)
{
    static const char *const needles[] = {"password", "secret", "token",       "authorization",
                                          "api_key",  "apikey", "private_key", "cookie"};
    char low[64];
    size_t i = 0;
    for (; i < sizeof(low) - 1 && name[i]; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]); k++) {
        if (strstr(low, needles[k]))
            return 1;
    }
    return 0;
}

static void log_timestamp(char *out, size_t n)
{
    clock_iso8601(clock_wall_ms(), out, n);
}

static void log_write_line(json_t *obj)
{
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line)
        return;
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps output is NUL-terminated; reuse the NUL slot */
    pthread_mutex_lock(&log_lock);
    size_t off = 0;
    while (off < len + 1) {
        ssize_t w = write(log_fd, line + off, len + 1 - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
    free(line);
}

void log_fields(enum log_level lvl, json_t *fields, const char *fmt, ...)
{
    if (lvl < log_min || lvl > LOG_LVL_ERROR) {
        json_decref(fields);
        return;
    }
    char ts[40], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_timestamp(ts, sizeof(ts));

    json_t *obj = json_object();
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_names[lvl]));
    json_object_set_new(obj, "svc", json_string(log_svc));
    json_object_set_new(obj, "request_id", json_string(log_rid));
    json_t *m = json_stringn(msg, strnlen(msg, sizeof(msg)));
    json_object_set_new(obj, "msg", m ? m : json_string("(message is not valid UTF-8)"));
    if (json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v)
        {
            if (json_object_get(obj, k))
                continue; /* the standard fields win */
            if (log_is_secret_name(k))
                json_object_set_new(obj, k, json_string("[redacted]"));
            else
                json_object_set(obj, k, v);
        }
    }
    json_decref(fields);
    log_write_line(obj);
    json_decref(obj);
}
