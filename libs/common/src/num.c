/* num: strict number parsing. */
#include <ibx/num.h>

#include <errno.h>
#include <stdlib.h>

int num_parse_long(const char *s, long min, long max, long *out)
{
    if (!s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
