/* log: one JSON object per line on stderr: {"ts","level","svc","request_id","msg",...}.
 *
 * The request id is thread-local: the HTTP server and the bus consumer set it around
 * each request or message, so every line logged while handling it carries it. Field
 * names that look like secrets (password, secret, token, authorization, api_key, key
 * material) are written as "[redacted]" whatever the caller passes. */
#ifndef IBX_LOG_H
#define IBX_LOG_H

#include <jansson.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* service is copied. Lines below min are dropped. Safe to call again (tests). */
void log_init(const char *service, enum log_level min);
/* "debug", "info", "warn"/"warning", "error" -> 0; anything else -> -EINVAL. */
int log_level_parse(const char *s, enum log_level *out) __attribute__((warn_unused_result));

/* Set (copy) or clear (NULL) this thread's request id. Ids longer than 64 bytes are cut. */
void log_set_request_id(const char *rid);
/* This thread's request id, "" when none. Borrowed, valid until the next set. */
const char *log_request_id(void);

/* Log msg (printf-style) with extra fields. fields is a JSON object or NULL; the
 * reference is stolen (decref'd here). */
void log_fields(enum log_level lvl, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_fields(LOG_LVL_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_fields(LOG_LVL_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_fields(LOG_LVL_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_fields(LOG_LVL_ERROR, NULL, __VA_ARGS__)

/* 1 when a field of this name must never be logged in clear. */
int log_is_secret_name(const char *name);

/* Tests: send lines to fd instead of stderr (2 restores). */
void log_set_fd(int fd);

#endif
