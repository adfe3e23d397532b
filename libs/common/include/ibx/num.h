/* num: strict text-to-number parsing (the whole string, base 10, with a range). */
#ifndef IBX_NUM_H
#define IBX_NUM_H

/* 0 and *out when s is a base-10 integer in min..max with nothing around it;
 * -EINVAL otherwise (*out untouched). */
int num_parse_long(const char *s, long min, long max, long *out)
    __attribute__((warn_unused_result));

#endif
