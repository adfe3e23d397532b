/* learnerjson: the structure of tree learners (a tree, a forest's trees, boosted trees) as
 * bounded JSON for the tree viewer (learner_tree_json). */
#include <ibx/learner.h>

#include "mlstr.h"

#include <errno.h>
#include <stdlib.h>

static int one_tree(const struct tree_model *t, const char *const *names, size_t max_nodes,
                    json_t **out)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    int rc = tree_to_json(t, names, max_nodes, &b);
    if (!rc) {
        *out = json_loadb(b.data, b.len, 0, NULL);
        rc = *out ? 0 : -ENOMEM;
    }
    buf_release(&b);
    return rc;
}

static int forest_json(const struct forest_model *f, const char *const *names, size_t max_nodes,
                       size_t max_trees, json_t **out)
{
    size_t n = forest_n_trees(f), shown = n < max_trees ? n : max_trees;
    json_t *trees = json_array();
    for (size_t i = 0; trees && i < shown; i++) {
        json_t *t = NULL;
        int rc = one_tree(forest_tree(f, i), names, max_nodes, &t);
        if (rc || mlstr_push(trees, t)) {
            json_decref(trees);
            return rc ? rc : -ENOMEM;
        }
    }
    if (!trees)
        return -ENOMEM;
    *out = json_pack("{s:I, s:I, s:o}", "n_trees", (json_int_t)n, "trees_shown", (json_int_t)shown,
                     "trees", trees);
    return *out ? 0 : -ENOMEM;
}

static json_t *gbt_node_json(const struct gbt_node *nd, size_t id, long left, int cut,
                             const char *const *names)
{
    json_t *o = json_pack("{s:I, s:o, s:o}", "id", (json_int_t)id, "value", mlstr_real(nd->value),
                          "cover", mlstr_real(nd->cover));
    if (!o)
        return NULL;
    int rc = 0;
    if (left >= 0) {
        rc = mlstr_set(o, "feature", json_integer(nd->feature)) ||
             mlstr_set(o, "threshold", mlstr_real(nd->threshold)) ||
             mlstr_set(o, "default_left", json_boolean(nd->default_left)) ||
             mlstr_set(o, "gain", mlstr_real(nd->gain)) ||
             mlstr_set(o, "left", json_integer(left)) ||
             mlstr_set(o, "right", json_integer(left + 1));
        if (!rc && names)
            rc = mlstr_set(o, "feature_name", json_string(names[nd->feature]));
    }
    if (!rc && cut)
        rc = mlstr_set(o, "truncated", json_true());
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* One boosted tree, breadth-first and renumbered, at most max_nodes nodes. */
static json_t *gbt_tree_json(const struct gbt_node *nodes, size_t count, size_t output,
                             const char *const *names, size_t max_nodes)
{
    size_t *queue = malloc(count * sizeof *queue);
    json_t *arr = json_array();
    size_t qlen = 1, limit = max_nodes < count ? max_nodes : count;
    int any_cut = 0;
    if (!queue || !arr)
        goto fail;
    queue[0] = 0;
    for (size_t i = 0; i < qlen; i++) {
        const struct gbt_node *nd = &nodes[queue[i]];
        long left = -1;
        int cut = 0;
        if (nd->feature >= 0 && qlen + 2 <= limit) {
            left = (long)qlen;
            queue[qlen++] = (size_t)nd->left;
            queue[qlen++] = (size_t)nd->right;
        } else if (nd->feature >= 0) {
            cut = any_cut = 1;
        }
        if (mlstr_push(arr, gbt_node_json(nd, i, left, cut, names)))
            goto fail;
    }
    free(queue);
    return json_pack("{s:I, s:I, s:b, s:o}", "output", (json_int_t)output, "n_nodes",
                     (json_int_t)count, "truncated", any_cut, "nodes", arr);
fail:
    free(queue);
    json_decref(arr);
    return NULL;
}

static int gbt_json(const struct gbt_model *g, const char *const *names, size_t max_nodes,
                    size_t max_trees, json_t **out)
{
    size_t n = gbt_n_trees(g), shown = n < max_trees ? n : max_trees;
    json_t *trees = json_array(), *base = json_array();
    const double *bs = gbt_base_score(g);
    for (size_t k = 0; base && k < gbt_n_outputs(g); k++)
        if (mlstr_push(base, mlstr_real(bs[k])))
            goto fail;
    for (size_t i = 0; trees && i < shown; i++) {
        size_t count = 0, output = 0;
        const struct gbt_node *nodes = gbt_tree(g, i, &count, &output);
        if (!nodes || mlstr_push(trees, gbt_tree_json(nodes, count, output, names, max_nodes)))
            goto fail;
    }
    if (!trees || !base)
        goto fail;
    *out = json_pack("{s:I, s:I, s:I, s:o, s:o}", "n_trees", (json_int_t)n, "trees_shown",
                     (json_int_t)shown, "n_outputs", (json_int_t)gbt_n_outputs(g), "base_score",
                     base, "trees", trees);
    return *out ? 0 : -ENOMEM;
fail:
    json_decref(trees);
    json_decref(base);
    return -ENOMEM;
}

int learner_tree_json(const struct learner_model *m, const char *const *feature_names,
                      size_t max_nodes, size_t max_trees, json_t **out)
{
    if (max_nodes == 0)
        max_nodes = 1;
    if (learner_model_tree(m))
        return one_tree(learner_model_tree(m), feature_names, max_nodes, out);
    if (learner_model_forest(m))
        return forest_json(learner_model_forest(m), feature_names, max_nodes, max_trees, out);
    if (learner_model_gbt(m))
        return gbt_json(learner_model_gbt(m), feature_names, max_nodes, max_trees, out);
    return -ENOTSUP;
}
