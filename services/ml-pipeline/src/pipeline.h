/* pipeline: internal declarations shared by the ml-pipeline service's files. */
#ifndef IBX_PIPELINE_H
#define IBX_PIPELINE_H

#include <ibx/svc.h>

#include <jansson.h>

/* ---- store.c: the only file that speaks SQL ---- */
/* Data rights (svc_def.export_user): everything this service holds about user_id as
 * {"experiments":[...]}, or NULL when it cannot be read. Caller decrefs. */
json_t *store_export_user(struct svc *s, const char *user_id);
/* Data rights (svc_def.erase_user): delete the user's rows; 0 also when there were none. */
int store_erase_user(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

#endif
