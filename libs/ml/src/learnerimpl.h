/* learnerimpl: what learner.c (registry, validation) and learnermodel.c (fitted models)
 * share (internal). */
#ifndef IBX_LEARNERIMPL_H
#define IBX_LEARNERIMPL_H

#include <ibx/learner.h>

#include <jansson.h>

/* The catalogue default of h as JSON (null when nullable). New reference. */
json_t *learner_hparam_default(const struct learner_hparam *h);

#endif
