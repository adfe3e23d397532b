/* treejson: a fitted CART tree as bounded JSON for the tree viewer (tree_to_json). */
#include <ibx/tree.h>

#include "cart.h"

#include <errno.h>
#include <stdlib.h>

/* A JSON string (the feature name) with the characters JSON requires escaped. */
static int treejson_string(struct buf *out, const char *s)
{
    int rc = buf_append(out, "\"", 1);
    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            rc = buf_printf(out, "\\%c", ch);
        else if (ch < 0x20)
            rc = buf_printf(out, "\\u%04x", ch);
        else
            rc = buf_append(out, s, 1);
    }
    return rc ? rc : buf_append(out, "\"", 1);
}

static int treejson_node(const struct tree_model *m, const char *const *names, size_t id,
                         size_t orig, long left, int truncated, struct buf *out)
{
    const struct tree_node *nd = &m->nodes[orig];
    int split = nd->feature >= 0 && left >= 0;
    int rc = buf_printf(out, "%s{\"id\":%zu,\"impurity\":%.17g,\"samples\":%u,\"weight\":%.17g",
                        id ? "," : "", id, nd->impurity, nd->samples, nd->weight);
    if (rc == 0 && split) {
        rc = buf_printf(out, ",\"feature\":%d,\"threshold\":%.17g,\"left\":%ld,\"right\":%ld",
                        nd->feature, nd->threshold, left, left + 1);
        if (rc == 0 && names) {
            rc = buf_append_str(out, ",\"feature_name\":");
            rc = rc ? rc : treejson_string(out, names[nd->feature] ? names[nd->feature] : "");
        }
    }
    if (rc == 0 && truncated)
        rc = buf_append_str(out, ",\"truncated\":true");
    rc = rc ? rc : buf_append_str(out, ",\"value\":[");
    for (size_t j = 0; j < m->width && rc == 0; j++)
        rc = buf_printf(out, "%s%.17g", j ? "," : "", m->values[orig * m->width + j]);
    return rc ? rc : buf_append_str(out, "]}");
}

int tree_to_json(const struct tree_model *model, const char *const *feature_names, size_t max_nodes,
                 struct buf *out)
{
    if (!model || !out || max_nodes == 0)
        return -EINVAL;
    size_t start = out->len;
    size_t *queue = malloc(model->n_nodes * sizeof *queue);
    if (!queue)
        return -ENOMEM;
    size_t qlen = 1, limit = max_nodes < model->n_nodes ? max_nodes : model->n_nodes;
    int any_cut = 0;
    queue[0] = 0;
    int rc = buf_printf(out, "{\"n_nodes\":%zu,\"n_features\":%zu,\"task\":\"%s\",\"nodes\":[",
                        model->n_nodes, model->p,
                        model->task == ML_CLASSIFICATION ? "classification" : "regression");
    for (size_t i = 0; i < qlen && rc == 0; i++) {
        const struct tree_node *nd = &model->nodes[queue[i]];
        long left = -1;
        int cut = 0;
        if (nd->feature >= 0 && qlen + 2 <= limit) {
            left = (long)qlen;
            queue[qlen++] = (size_t)nd->left;
            queue[qlen++] = (size_t)nd->right;
        } else if (nd->feature >= 0) {
            cut = any_cut = 1;
        }
        rc = treejson_node(model, feature_names, i, queue[i], left, cut, out);
    }
    if (rc == 0 && model->task == ML_CLASSIFICATION)
        rc = buf_printf(out, "],\"classes\":%zu", model->nclasses);
    else if (rc == 0)
        rc = buf_append_str(out, "]");
    rc = rc ? rc : buf_printf(out, ",\"truncated\":%s}", any_cut ? "true" : "false");
    free(queue);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
