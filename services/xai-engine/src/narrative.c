/* narrative: the explanation told in words, from the result's own facts (the method and
 * why, the top features with their signs and sizes, the model's metrics, the additivity
 * residual), for three audiences and in English or French, with no external service.
 *
 * novice (about 180 words): plain words, shares in percent, an everyday analogy;
 * intermediate (about 280): the metrics and what they mean, the values, the check;
 * expert (about 320): the method's details and assumptions, interactions and correlated
 * features, the caveats. Sentences are templates whose {0}..{9} are replaced by facts
 * formatted for the language (decimal comma and « » quotes in French). */
#include "engine.h"

#include <ibx/buf.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_RING 32
#define NB_TMP  320
#define NF_MAX  5

/* ------------------------------------------------------------------ text builder */

struct nb {
    struct buf b;
    enum xe_lang lang;
    char ring[NB_RING][NB_TMP];
    size_t ri;
};

static char *nb_tmp(struct nb *n)
{
    char *t = n->ring[n->ri++ % NB_RING];
    t[0] = '\0';
    return t;
}

/* Append tpl with {i} replaced by argv[i] (argc of them). */
static void nb_tpl(struct nb *n, const char *tpl, const char *const *argv, size_t argc)
{
    for (const char *p = tpl; *p; p++) {
        if (p[0] == '{' && p[1] >= '0' && p[1] <= '9' && p[2] == '}') {
            size_t i = (size_t)(p[1] - '0');
            if (i < argc && argv[i])
                (void)!buf_append_str(&n->b, argv[i]);
            p += 2;
        } else {
            (void)!buf_append(&n->b, p, 1);
        }
    }
}

static void nb_say(struct nb *n, const char *en, const char *fr, const char *const *argv,
                   size_t argc)
{
    nb_tpl(n, n->lang == XE_FR ? fr : en, argv, argc);
}

#define SAY(n, en, fr, ...)                                                                        \
    nb_say((n), (en), (fr), (const char *const[]){__VA_ARGS__},                                    \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define SAY0(n, en, fr) nb_say((n), (en), (fr), NULL, 0)

/* End the paragraph (the trailing space of the last sentence goes). */
static void nb_par(struct nb *n)
{
    while (n->b.len && n->b.data[n->b.len - 1] == ' ')
        n->b.data[--n->b.len] = '\0';
    if (n->b.len)
        (void)!buf_append_str(&n->b, "\n\n");
}

static void nb_decimal(const struct nb *n, char *s)
{
    for (; n->lang == XE_FR && *s; s++)
        if (*s == '.')
            *s = ',';
}

/* v with digits decimals ("n/a" when not finite). */
static const char *nb_num(struct nb *n, double v, int digits)
{
    char *t = nb_tmp(n);
    if (!isfinite(v))
        return n->lang == XE_FR ? "n.d." : "n/a";
    snprintf(t, NB_TMP, "%.*f", digits, fabs(v) < 0.5 * pow(10, -digits) ? 0.0 : v);
    nb_decimal(n, t);
    return t;
}

/* v with 3 significant digits (small residuals: 2.2e-16). */
static const char *nb_sig(struct nb *n, double v)
{
    char *t = nb_tmp(n);
    snprintf(t, NB_TMP, "%.3g", isfinite(v) ? v : 0.0);
    nb_decimal(n, t);
    return t;
}

static const char *nb_pct(struct nb *n, double frac)
{
    return nb_num(n, 100.0 * frac, 0);
}

static const char *nb_int(struct nb *n, long v)
{
    char *t = nb_tmp(n);
    snprintf(t, NB_TMP, "%ld", v);
    return t;
}

/* A name in the language's quotes. */
static const char *nb_q(struct nb *n, const char *s)
{
    char *t = nb_tmp(n);
    snprintf(t, NB_TMP, n->lang == XE_FR ? "«\xc2\xa0%s\xc2\xa0»" : "\xe2\x80\x9c%s\xe2\x80\x9d",
             s ? s : "?");
    return t;
}

/* A cell of the data: a number, a text, or missing. */
static const char *nb_value(struct nb *n, const json_t *v)
{
    char *t = nb_tmp(n);
    if (json_is_number(v))
        snprintf(t, NB_TMP, "%.4g", json_number_value(v));
    else if (json_is_string(v))
        snprintf(t, NB_TMP, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(t, NB_TMP, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(t, NB_TMP, "%s", n->lang == XE_FR ? "manquante" : "missing");
    nb_decimal(n, t);
    return t;
}

/* ------------------------------------------------------------------ facts */

struct nfeat {
    const char *name;
    double imp, share, sd;
    int dir; /* +1: higher values raise the output, -1: lower it, 0: unknown */
    const char *strongest;
    const json_t *value; /* local: the instance's value */
    const char *cond;    /* local LIME: the rule */
    const char *trend;   /* pdp */
    double x0, x1, y0, y1;
    const char *out;
};

struct nfacts {
    enum xe_lang lang;
    enum xe_audience aud;
    enum xe_used used;
    int cls, local, exact, multi;
    const char *target, *alg, *space;
    double acc, f1, auc, r2, rmse, mae;
    size_t nfeat, rows, train_rows;
    struct nfeat top[NF_MAX];
    size_t ntop;
    double total;
    long row;
    const char *label, *output;
    double prob, out_value, value, base, residual, max_res, lime_score;
    const char *perm_score;
    double perm_base;
    long repeats, nsamples, background, grid, ice, seed;
    const char *corr_a, *corr_b;
    double corr;
    int split_test;
};

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static long lnum(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void facts_ranking(struct nfacts *f, const json_t *res)
{
    const json_t *rank = json_object_get(res, "ranking");
    size_t i;
    const json_t *e;
    json_array_foreach(rank, i, e)
    {
        f->total += fmax(num(e, "importance"), 0.0);
    }
    json_array_foreach(rank, i, e)
    {
        if (i >= NF_MAX)
            break;
        struct nfeat *t = &f->top[f->ntop++];
        t->name = str(e, "feature");
        t->imp = num(e, "importance");
        t->sd = num(e, "sd");
        t->share = f->total > 0 ? fmax(t->imp, 0.0) / f->total : 0;
        t->strongest = str(e, "strongest_output");
        double r = num(json_object_get(e, "direction"), "correlation");
        t->dir = r >= 0.3 ? 1 : r <= -0.3 ? -1 : 0;
    }
}

static void facts_pdp(struct nfacts *f, const json_t *res)
{
    size_t i;
    const json_t *cv;
    for (size_t k = 0; k < f->ntop; k++) {
        json_array_foreach(json_object_get(res, "pdp"), i, cv)
        {
            if (!f->top[k].name || strcmp(str(cv, "feature"), f->top[k].name) != 0)
                continue;
            const char *best = NULL, *name;
            const json_t *rg;
            json_object_foreach((json_t *)json_object_get(cv, "range"), name, rg)
            {
                if (!best || json_number_value(rg) > num(json_object_get(cv, "range"), best))
                    best = name;
            }
            const json_t *avg = json_object_get(json_object_get(cv, "average"), best);
            const json_t *grid = json_object_get(cv, "grid");
            size_t ng = json_array_size(grid);
            struct nfeat *t = &f->top[k];
            t->out = best;
            t->trend = str(json_object_get(cv, "trend"), best);
            t->x0 = json_number_value(json_array_get(grid, 0));
            t->x1 = json_number_value(json_array_get(grid, ng ? ng - 1 : 0));
            t->y0 = json_number_value(json_array_get(avg, 0));
            t->y1 = json_number_value(json_array_get(avg, ng ? ng - 1 : 0));
        }
    }
}

static void facts_local(struct nfacts *f, const json_t *loc)
{
    f->local = 1;
    f->row = json_is_integer(json_object_get(loc, "row")) ? lnum(loc, "row") : -1;
    f->output = str(loc, "output");
    f->out_value = num(loc, "output_value");
    f->base = num(loc, "base_value");
    f->residual = num(loc, "residual");
    f->lime_score = num(json_object_get(loc, "lime"), "score");
    const json_t *pred = json_object_get(loc, "prediction");
    f->label = str(pred, "label");
    f->value = num(pred, "value");
    f->prob = f->label ? num(json_object_get(pred, "probabilities"), f->label) : NAN;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(loc, "contributions"), i, e)
    {
        f->total += fabs(num(e, "contribution"));
    }
    json_array_foreach(json_object_get(loc, "contributions"), i, e)
    {
        if (i >= NF_MAX)
            break;
        struct nfeat *t = &f->top[f->ntop++];
        t->name = str(e, "feature");
        t->imp = num(e, "contribution");
        t->share = f->total > 0 ? fabs(t->imp) / f->total : 0;
        t->value = json_object_get(e, "value");
        t->cond = str(e, "condition");
        t->sd = num(e, "weight_sd");
    }
}

static void facts_read(struct nfacts *f, const json_t *res, enum xe_audience aud, enum xe_lang lang)
{
    memset(f, 0, sizeof(*f));
    f->lang = lang;
    f->aud = aud;
    int u = xe_used_parse(str(res, "method"));
    f->used = u < 0 ? XE_TREE_SHAP : (enum xe_used)u;
    f->cls = str(res, "task") && strcmp(str(res, "task"), "classification") == 0;
    f->exact = json_is_true(json_object_get(res, "exact"));
    f->target = str(res, "target");
    f->alg = str(res, "algorithm");
    const json_t *m = json_object_get(res, "metrics"), *d = json_object_get(res, "data");
    f->acc = num(m, "accuracy"), f->f1 = num(m, "f1_macro"), f->auc = num(m, "roc_auc");
    f->r2 = num(m, "r2"), f->rmse = num(m, "rmse"), f->mae = num(m, "mae");
    f->nfeat = json_array_size(json_object_get(res, "features"));
    f->rows = (size_t)lnum(d, "rows_explained");
    f->train_rows = (size_t)lnum(d, "train_rows");
    f->split_test = str(d, "split") && strcmp(str(d, "split"), "experiment") == 0;
    f->space = str(json_object_get(res, "output"), "space");
    f->multi = json_array_size(json_object_get(json_object_get(res, "output"), "names")) > 2;
    f->max_res = num(json_object_get(res, "additivity"), "max_abs_residual");
    const json_t *pa = json_object_get(res, "parameters");
    f->nsamples = lnum(pa, "nsamples"), f->background = lnum(pa, "background_size");
    f->repeats = lnum(pa, "repeats"), f->grid = lnum(pa, "grid_points");
    f->ice = lnum(pa, "ice_rows");
    f->seed = lnum(res, "seed");
    const json_t *pm = json_object_get(res, "permutation");
    f->perm_score = str(pm, "score");
    f->perm_base = num(pm, "baseline");
    const json_t *corr = json_object_get(res, "correlation");
    f->corr_a = json_string_value(json_array_get(json_object_get(corr, "features"), 0));
    f->corr_b = json_string_value(json_array_get(json_object_get(corr, "features"), 1));
    f->corr = num(corr, "pearson");
    const json_t *loc = json_object_get(res, "local");
    if (json_is_object(loc))
        facts_local(f, loc);
    else
        facts_ranking(f, res);
    if (f->used == XE_USE_PDP)
        facts_pdp(f, res);
}

/* ------------------------------------------------------------------ shared phrases */

static const char *alg_name(const struct nfacts *f)
{
    static const char *const names[][3] = {
        {"decision_tree", "decision tree", "arbre de décision"},
        {"random_forest", "random forest", "forêt aléatoire"},
        {"gradient_boosting", "gradient-boosted trees", "arbres boostés par gradient"},
        {"logistic_regression", "logistic regression", "régression logistique"},
        {"linear_regression", "linear regression", "régression linéaire"},
        {"ridge_regression", "ridge regression", "régression ridge"},
        {"knn", "k nearest neighbours", "k plus proches voisins"},
        {"gaussian_nb", "naive Bayes", "bayésien naïf"},
    };
    for (size_t i = 0; f->alg && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], f->alg) == 0)
            return names[i][f->lang == XE_FR ? 2 : 1];
    return f->alg ? f->alg : "model";
}

/* A curve's trend ("rising", ...) in the language. */
static const char *trend_name(const struct nb *n, const char *trend)
{
    static const char *const names[][3] = {{"rising", "rising", "croissante"},
                                           {"falling", "falling", "décroissante"},
                                           {"flat", "flat", "plate"},
                                           {"mixed", "not monotonic", "non monotone"}};
    for (size_t i = 0; trend && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], trend) == 0)
            return names[i][n->lang == XE_FR ? 2 : 1];
    return "?";
}

/* A permutation score's name in the language. */
static const char *score_name(const struct nb *n, const char *score)
{
    if (score && strcmp(score, "accuracy") == 0)
        return n->lang == XE_FR ? "l'exactitude" : "accuracy";
    if (score && strcmp(score, "r2") == 0)
        return "R²";
    return n->lang == XE_FR ? "la log-vraisemblance" : "log-likelihood";
}

static const char *method_name(const struct nfacts *f)
{
    static const char *const names[][2] = {
        {"TreeSHAP", "TreeSHAP"},
        {"Linear SHAP", "Linear SHAP"},
        {"KernelSHAP", "KernelSHAP"},
        {"LIME", "LIME"},
        {"permutation importance", "l'importance par permutation"},
        {"partial dependence", "la dépendance partielle"},
    };
    return names[f->used][f->lang == XE_FR ? 1 : 0];
}

static int is_shap(const struct nfacts *f)
{
    return f->used <= XE_KERNEL_SHAP;
}

/* The instance: "row 12 of your data" or "the example you entered". */
static const char *which_row(struct nb *n, const struct nfacts *f)
{
    char *t = nb_tmp(n);
    if (f->row >= 0)
        snprintf(t, NB_TMP,
                 n->lang == XE_FR ? "la ligne %ld de vos données" : "row %ld of your data", f->row);
    else
        snprintf(t, NB_TMP, "%s",
                 n->lang == XE_FR ? "l'exemple que vous avez saisi" : "the example you entered");
    return t;
}

/* What the local prediction is, in words: “2” (97% sure) or 14.2 for “price”. */
static void say_prediction(struct nb *n, const struct nfacts *f)
{
    if (f->cls && f->label && isfinite(f->prob))
        SAY(n, "the model answers {0} and is {1}% sure of it. ",
            "le modèle répond {0} avec une confiance de {1}\xc2\xa0%. ", nb_q(n, f->label),
            nb_pct(n, f->prob));
    else if (f->cls && f->label)
        SAY(n, "the model answers {0}. ", "le modèle répond {0}. ", nb_q(n, f->label));
    else
        SAY(n, "the model predicts {0} for {1}. ", "le modèle prédit {0} pour {1}. ",
            nb_num(n, f->value, 2), nb_q(n, f->target));
}

static void say_metric_plain(struct nb *n, const struct nfacts *f)
{
    if (f->cls && isfinite(f->acc))
        SAY(n,
            "On rows it had never seen during training, it was right {0}% of the time: "
            "about {1} wrong answers in every hundred. ",
            "Sur des lignes qu'il n'avait jamais vues pendant l'entraînement, il a eu raison "
            "dans {0}\xc2\xa0% des cas, soit environ {1} erreurs sur cent réponses. ",
            nb_pct(n, f->acc), nb_num(n, (1.0 - f->acc) * 100.0, 0));
    else if (!f->cls && isfinite(f->r2))
        SAY(n,
            "On rows it had never seen during training, it explains {0}% of the ups and downs "
            "of {1} (100% would be perfect). ",
            "Sur des lignes qu'il n'avait jamais vues pendant l'entraînement, il explique "
            "{0}\xc2\xa0% des variations de {1} (100\xc2\xa0% serait parfait). ",
            nb_pct(n, fmax(f->r2, 0.0)), nb_q(n, f->target));
}

static void say_metric_meaning(struct nb *n, const struct nfacts *f)
{
    if (f->cls && isfinite(f->acc))
        SAY(n,
            "On the held-out test rows the model reaches an accuracy of {0}% and a macro F1 "
            "score of {1}. Accuracy is the share of correct answers; the F1 score balances "
            "precision (how often a predicted class is right) and recall (how many rows of a "
            "class are found) across all classes, so a value close to 1 means that no class "
            "is neglected. ",
            "Sur les lignes de test mises de côté, le modèle atteint une exactitude de "
            "{0}\xc2\xa0% et un score F1 macro de {1}. L'exactitude est la part de bonnes "
            "réponses\xc2\xa0; le F1 équilibre la précision (à quelle fréquence une classe "
            "prédite est juste) et le rappel (quelle part des lignes d'une classe est "
            "retrouvée) sur toutes les classes, donc une valeur proche de 1 signifie "
            "qu'aucune classe n'est négligée. ",
            nb_num(n, 100 * f->acc, 1), nb_num(n, f->f1, 3));
    else if (!f->cls && isfinite(f->r2))
        SAY(n,
            "On the held-out test rows the model reaches R² = {0} with an RMSE of {1}. R² is "
            "the share of the target's variance the model explains (1 is perfect, 0 is no "
            "better than always predicting the mean); the RMSE is the typical size of an "
            "error, in the units of {2}. ",
            "Sur les lignes de test mises de côté, le modèle atteint R² = {0} avec une RMSE "
            "de {1}. Le R² est la part de la variance de la cible que le modèle explique (1 "
            "est parfait, 0 ne fait pas mieux que prédire toujours la moyenne)\xc2\xa0; la "
            "RMSE est la taille typique d'une erreur, dans les unités de {2}. ",
            nb_num(n, f->r2, 3), nb_sig(n, f->rmse), nb_q(n, f->target));
}

/* ------------------------------------------------------------------ novice */

static void novice_intro(struct nb *n, const struct nfacts *f)
{
    if (f->local) {
        SAY(n, "This explanation looks at a single case, {0}. For it, ",
            "Cette explication porte sur un seul cas, {0}. Pour lui, ", which_row(n, f));
        say_prediction(n, f);
        SAY(n, "The model ({0}) learned from your data to predict {1}. ",
            "Le modèle ({0}) a appris de vos données à prédire {1}. ", alg_name(f),
            nb_q(n, f->target));
    } else {
        SAY(n,
            "Your model ({0}) predicts {1} from {2} pieces of information about each row of "
            "your data. This explanation shows which of them it relies on most. ",
            "Votre modèle ({0}) prédit {1} à partir de {2} informations sur chaque ligne de "
            "vos données. Cette explication montre celles sur lesquelles il s'appuie le "
            "plus. ",
            alg_name(f), nb_q(n, f->target), nb_int(n, (long)f->nfeat));
    }
    say_metric_plain(n, f);
    nb_par(n);
}

static void novice_local(struct nb *n, const struct nfacts *f)
{
    for (size_t i = 0; i < f->ntop && i < 3; i++) {
        const struct nfeat *t = &f->top[i];
        const char *way = t->imp >= 0 ? (n->lang == XE_FR ? "vers" : "towards")
                                      : (n->lang == XE_FR ? "loin de" : "away from");
        if (i == 0)
            SAY(n,
                "What weighed most was {0}, which is {1} here: it pushed the model {2} this "
                "answer, with about {3}% of the total push. ",
                "Ce qui a le plus pesé est {0}, qui vaut {1} ici\xc2\xa0: cette information a "
                "poussé le modèle {2} cette réponse, avec environ {3}\xc2\xa0% de la poussée "
                "totale. ",
                nb_q(n, t->name), nb_value(n, t->value), way, nb_pct(n, t->share));
        else
            SAY(n, "Then comes {0} (here {1}), which pushed {2} it. ",
                "Vient ensuite {0} (ici {1}), qui a poussé {2} elle. ", nb_q(n, t->name),
                nb_value(n, t->value), way);
    }
    if (f->used == XE_USE_LIME && f->ntop && f->top[0].cond)
        SAY(n, "In plain words, the rule that mattered most is: {0}. ",
            "Dit simplement, la règle qui a le plus compté est\xc2\xa0: {0}. ", f->top[0].cond);
    nb_par(n);
    SAY(n,
        "Think of a jury: each piece of information is a juror who votes for or against the "
        "answer, some louder than others. Here the loudest juror was {0}, and the others "
        "mostly followed or quietly disagreed. ",
        "Pensez à un jury\xc2\xa0: chaque information est un juré qui vote pour ou contre la "
        "réponse, certains plus fort que d'autres. Ici, le juré le plus influent était {0}, "
        "et les autres l'ont surtout suivi ou ont discrètement protesté. ",
        nb_q(n, f->ntop ? f->top[0].name : "?"));
}

static void novice_global_findings(struct nb *n, const struct nfacts *f)
{
    const struct nfeat *t = f->top;
    if (f->used == XE_USE_PERMUTATION)
        SAY(n,
            "To find out, we shuffled each piece of information in turn and watched how much "
            "worse the model became. Shuffling {0} hurt it most, so it is the information the "
            "model needs most; it accounts for about {1}% of all the damage. ",
            "Pour le savoir, nous avons mélangé chaque information à tour de rôle en observant "
            "à quel point le modèle se dégradait. Mélanger {0} l'a le plus pénalisé\xc2\xa0: "
            "c'est l'information dont il a le plus besoin, avec environ {1}\xc2\xa0% de la "
            "dégradation totale. ",
            nb_q(n, t->name), nb_pct(n, t->share));
    else if (f->used == XE_USE_PDP)
        SAY(n,
            "We moved {0} from {1} to {2} while keeping everything else as it was, and watched "
            "the model's answer for {3}: on average it went from {4} to {5}. ",
            "Nous avons fait varier {0} de {1} à {2} en gardant tout le reste tel quel, et "
            "observé la réponse du modèle pour {3}\xc2\xa0: en moyenne, elle est passée de {4} "
            "à {5}. ",
            nb_q(n, t->name), nb_num(n, t->x0, 2), nb_num(n, t->x1, 2), nb_q(n, t->out),
            nb_num(n, t->y0, 2), nb_num(n, t->y1, 2));
    else
        SAY(n,
            "The most important piece of information is {0}, which carries about {1}% of the "
            "total effect on the model's answers. ",
            "L'information la plus importante est {0}, qui porte environ {1}\xc2\xa0% de "
            "l'effet total sur les réponses du modèle. ",
            nb_q(n, t->name), nb_pct(n, t->share));
    if (f->ntop >= 3)
        SAY(n, "Next come {0} and {1}. ", "Viennent ensuite {0} et {1}. ", nb_q(n, t[1].name),
            nb_q(n, t[2].name));
    else if (f->ntop == 2)
        SAY(n, "Next comes {0}. ", "Vient ensuite {0}. ", nb_q(n, t[1].name));
    if (t->dir)
        SAY(n, "In general, the higher {0} is, the {1} the model's answer. ",
            "En général, plus {0} est élevé, plus la réponse du modèle est {1}. ", nb_q(n, t->name),
            t->dir > 0 ? (n->lang == XE_FR ? "haute" : "higher")
                       : (n->lang == XE_FR ? "basse" : "lower"));
    else if (t->strongest && f->multi)
        SAY(n, "It matters most for recognising the class {0}. ",
            "Elle compte surtout pour reconnaître la classe {0}. ", nb_q(n, t->strongest));
    nb_par(n);
}

static void novice_global(struct nb *n, const struct nfacts *f)
{
    novice_global_findings(n, f);
    SAY(n,
        "Think of a doctor who asks a few questions before giving a diagnosis. A good doctor "
        "listens most to the answers that really tell illnesses apart and barely notices the "
        "others. Your model behaves the same way: {0} is the question it listens to most. ",
        "Pensez à un médecin qui pose quelques questions avant de donner un diagnostic. Un bon "
        "médecin écoute surtout les réponses qui distinguent vraiment les maladies et remarque "
        "à peine les autres. Votre modèle fait de même\xc2\xa0: {0} est la question qu'il "
        "écoute le plus. ",
        nb_q(n, f->ntop ? f->top[0].name : "?"));
}

static void novice_text(struct nb *n, const struct nfacts *f)
{
    novice_intro(n, f);
    if (f->local)
        novice_local(n, f);
    else
        novice_global(n, f);
    if (is_shap(f) && f->exact)
        SAY(n,
            "These figures come from an exact method ({0}): the effects of all the pieces of "
            "information add up precisely to the model's answer, so nothing is left out. ",
            "Ces chiffres viennent d'une méthode exacte ({0})\xc2\xa0: les effets de toutes les "
            "informations s'additionnent précisément pour donner la réponse du modèle, rien "
            "n'est laissé de côté. ",
            method_name(f));
    else
        SAY(n,
            "These figures are careful estimates ({0}), not exact measurements, so small "
            "differences between them should not be over-read. ",
            "Ces chiffres sont des estimations soignées ({0}), pas des mesures exactes\xc2\xa0: "
            "il ne faut pas sur-interpréter les petits écarts. ",
            method_name(f));
    nb_par(n);
    SAY0(n,
         "If the model relies on something that seems odd to you, check your data: a model is "
         "only as reliable and fair as the examples it learned from.",
         "Si le modèle s'appuie sur quelque chose qui vous semble étrange, vérifiez vos "
         "données\xc2\xa0: un modèle n'est jamais plus fiable ni plus juste que les exemples "
         "dont il a appris.");
}

/* ------------------------------------------------------------------ intermediate */

static void say_method_why(struct nb *n, const struct nfacts *f)
{
    static const char *const why[][2] = {
        {"TreeSHAP was used because the model is made of decision trees: it computes exact "
         "Shapley values by following the trees' paths. ",
         "TreeSHAP a été utilisé car le modèle est fait d'arbres de décision\xc2\xa0: il calcule "
         "des valeurs de Shapley exactes en suivant les chemins des arbres. "},
        {"Linear SHAP was used because the model is linear: its exact Shapley values follow "
         "from the coefficients and the training means. ",
         "Linear SHAP a été utilisé car le modèle est linéaire\xc2\xa0: ses valeurs de Shapley "
         "exactes découlent des coefficients et des moyennes d'entraînement. "},
        {"KernelSHAP was used: it estimates Shapley values from the model's answers on "
         "sampled combinations of features, for any kind of model. ",
         "KernelSHAP a été utilisé\xc2\xa0: il estime les valeurs de Shapley à partir des "
         "réponses du modèle sur des combinaisons de variables tirées au hasard, pour tout "
         "type de modèle. "},
        {"LIME was used: it fits a simple weighted linear model around the instance, on "
         "thousands of perturbed copies of it. ",
         "LIME a été utilisé\xc2\xa0: il ajuste un modèle linéaire pondéré simple autour de "
         "l'instance, sur des milliers de copies perturbées de celle-ci. "},
        {"Permutation importance was used: it measures how much the test score drops when "
         "one feature's values are shuffled. ",
         "L'importance par permutation a été utilisée\xc2\xa0: elle mesure la baisse du score "
         "de test quand on mélange les valeurs d'une variable. "},
        {"Partial dependence was used: it shows the model's average answer as one feature "
         "moves over its range, the others unchanged. ",
         "La dépendance partielle a été utilisée\xc2\xa0: elle montre la réponse moyenne du "
         "modèle quand une variable parcourt son domaine, les autres restant inchangées. "},
    };
    nb_tpl(n, why[f->used][n->lang == XE_FR ? 1 : 0], NULL, 0);
}

static void inter_intro(struct nb *n, const struct nfacts *f)
{
    if (f->local)
        SAY(n, "This local explanation of your {0} (target {1}) concerns {2}: ",
            "Cette explication locale de votre modèle ({0}, cible {1}) concerne {2}\xc2\xa0: ",
            alg_name(f), nb_q(n, f->target), which_row(n, f));
    else
        SAY(n,
            "This global explanation of your {0} (target {1}) covers {2} rows of the data and "
            "{3} input features. ",
            "Cette explication globale de votre modèle ({0}, cible {1}) couvre {2} lignes des "
            "données et {3} variables d'entrée. ",
            alg_name(f), nb_q(n, f->target), nb_int(n, (long)f->rows), nb_int(n, (long)f->nfeat));
    if (f->local)
        say_prediction(n, f);
    say_method_why(n, f);
    nb_par(n);
    say_metric_meaning(n, f);
    nb_par(n);
}

static void inter_ranking(struct nb *n, const struct nfacts *f)
{
    const char *measure =
        f->used == XE_USE_PERMUTATION
            ? (n->lang == XE_FR ? "la baisse moyenne du score" : "the mean drop of the score")
        : f->used == XE_USE_LIME
            ? (n->lang == XE_FR ? "le poids LIME absolu moyen" : "the mean absolute LIME weight")
            : (n->lang == XE_FR ? "la valeur SHAP absolue moyenne"
                                : "the mean absolute SHAP value");
    SAY(n, "Ranked by {0}, the leading features are: ",
        "Classées selon {0}, les variables de "
        "tête sont\xc2\xa0: ",
        measure);
    double cum = 0;
    for (size_t i = 0; i < f->ntop && i < 4; i++) {
        const struct nfeat *t = &f->top[i];
        cum += t->share;
        SAY(n, "{0}. {1} ({2}, {3}% of the total){4}", "{0}. {1} ({2}, {3}\xc2\xa0% du total){5}",
            nb_int(n, (long)i + 1), nb_q(n, t->name), nb_sig(n, t->imp), nb_pct(n, t->share),
            i + 1 < f->ntop && i < 3 ? "; " : ". ", i + 1 < f->ntop && i < 3 ? "\xc2\xa0; " : ". ");
    }
    if (f->ntop < f->nfeat && cum < 0.995)
        SAY(n, "Together they carry {0}% of the total. ",
            "Ensemble, elles portent {0}\xc2\xa0% du total. ", nb_pct(n, cum));
    int same = f->multi && f->ntop >= 2 && f->top[0].strongest && f->top[1].strongest &&
               strcmp(f->top[0].strongest, f->top[1].strongest) == 0;
    if (same)
        SAY(n, "Both matter most for the class {0}. ",
            "Toutes deux comptent surtout pour la classe {0}. ", nb_q(n, f->top[0].strongest));
    for (size_t i = 0; !same && i < f->ntop && i < 2; i++) {
        const struct nfeat *t = &f->top[i];
        if (t->dir)
            SAY(n, "Higher values of {0} {1} the prediction. ",
                "Des valeurs plus élevées de {0} {1} la prédiction. ", nb_q(n, t->name),
                t->dir > 0 ? (n->lang == XE_FR ? "augmentent" : "raise")
                           : (n->lang == XE_FR ? "diminuent" : "lower"));
        else if (t->strongest && f->multi)
            SAY(n, "{0} matters most for the class {1}. ",
                "{0} compte surtout pour la classe {1}. ", nb_q(n, t->name), nb_q(n, t->strongest));
    }
    if (f->used == XE_USE_PERMUTATION && f->ntop && isfinite(f->top[0].sd))
        SAY(n,
            "Shuffling {0} lowers the {1} by {2} on average (± {3} over {4} repeats), from a "
            "baseline of {5}. ",
            "Mélanger {0} fait baisser {1} de {2} en moyenne (± {3} sur {4} répétitions), à "
            "partir d'une base de {5}. ",
            nb_q(n, f->top[0].name), score_name(n, f->perm_score), nb_sig(n, f->top[0].imp),
            nb_sig(n, f->top[0].sd), nb_int(n, f->repeats), nb_num(n, f->perm_base, 3));
}

static void inter_pdp(struct nb *n, const struct nfacts *f)
{
    for (size_t i = 0; i < f->ntop && i < 3; i++) {
        const struct nfeat *t = &f->top[i];
        SAY(n,
            "As {0} goes from {1} to {2}, the average predicted {3} goes from {4} to {5} "
            "(curve: {6}). ",
            "Quand {0} passe de {1} à {2}, la prédiction moyenne pour {3} passe de {4} à {5} "
            "(courbe\xc2\xa0: {6}). ",
            nb_q(n, t->name), nb_num(n, t->x0, 2), nb_num(n, t->x1, 2), nb_q(n, t->out),
            nb_num(n, t->y0, 3), nb_num(n, t->y1, 3), trend_name(n, t->trend));
    }
    SAY0(n,
         "A steep curve means the model is sensitive to that feature; a flat one means it "
         "hardly uses it. The individual (ICE) curves show whether all rows react alike. ",
         "Une courbe raide signifie que le modèle est sensible à cette variable\xc2\xa0; une "
         "courbe plate, qu'il s'en sert peu. Les courbes individuelles (ICE) montrent si toutes "
         "les lignes réagissent de la même façon. ");
}

static void inter_local(struct nb *n, const struct nfacts *f)
{
    SAY(n, "Starting from a base value of {0} for {1}, ",
        "En partant d'une valeur de base de {0} pour {1}, ", nb_num(n, f->base, 3),
        nb_q(n, f->output));
    for (size_t i = 0; i < f->ntop && i < 4; i++) {
        const struct nfeat *t = &f->top[i];
        SAY(n, "{0} = {1} {2} {3}{4}", "{0} = {1} {2} {3}{5}", nb_q(n, t->name),
            nb_value(n, t->value),
            t->imp >= 0 ? (n->lang == XE_FR ? "ajoute" : "adds")
                        : (n->lang == XE_FR ? "retire" : "subtracts"),
            nb_num(n, fabs(t->imp), 3), i + 1 < f->ntop && i < 3 ? ", " : "; ",
            i + 1 < f->ntop && i < 3 ? ", " : "\xc2\xa0; ");
    }
    SAY(n, "the model's output is {0}. ", "la sortie du modèle est {0}. ",
        nb_num(n, f->out_value, 3));
    if (f->used == XE_USE_LIME)
        SAY(n,
            "The rule behind the main weight is {0}. The surrogate fits the model around this "
            "instance with R² = {1}; the closer to 1, the more the weights can be trusted. ",
            "La règle derrière le poids principal est {0}. Le substitut reproduit le modèle "
            "autour de cette instance avec R² = {1}\xc2\xa0; plus il est proche de 1, plus les "
            "poids sont fiables. ",
            f->ntop && f->top[0].cond ? f->top[0].cond : "?", nb_num(n, f->lime_score, 3));
    else
        SAY0(n,
             "Each value is the share of the difference between this prediction and the "
             "average prediction that the feature is responsible for. ",
             "Chaque valeur est la part de l'écart entre cette prédiction et la prédiction "
             "moyenne dont la variable est responsable. ");
}

static void say_residual(struct nb *n, const struct nfacts *f)
{
    if (is_shap(f) && isfinite(f->max_res))
        SAY(n,
            "Additivity check: prediction minus base value minus the sum of the values is at "
            "most {0}, {1}. ",
            "Contrôle d'additivité\xc2\xa0: la prédiction moins la valeur de base moins la somme "
            "des valeurs vaut au plus {0}, {1}. ",
            nb_sig(n, f->max_res),
            f->max_res < 1e-9
                ? (n->lang == XE_FR ? "c'est-à-dire zéro à l'arrondi près"
                                    : "that is, zero up to rounding")
                : (n->lang == XE_FR ? "l'écart de l'estimation" : "the estimate's gap"));
}

static void say_check(struct nb *n, const struct nfacts *f)
{
    say_residual(n, f);
    if (f->corr_a && f->corr_b && isfinite(f->corr) && fabs(f->corr) >= 0.7)
        SAY(n,
            "{0} and {1} are strongly correlated (r = {2}): the model could use either, so "
            "read their credit together. ",
            "{0} et {1} sont fortement corrélées (r = {2})\xc2\xa0: le modèle pourrait utiliser "
            "l'une ou l'autre, lisez donc leur crédit ensemble. ",
            nb_q(n, f->corr_a), nb_q(n, f->corr_b), nb_num(n, f->corr, 2));
}

/* How to read the values (intermediate). */
static void inter_reading(struct nb *n, const struct nfacts *f)
{
    if (is_shap(f) && f->local)
        return;
    if (is_shap(f))
        SAY0(n,
             "How to read this: a SHAP value is how far a feature moves one prediction away "
             "from the model's average prediction. The ranking averages the size of these "
             "moves over the rows, so it tells how much the model uses a feature, not in which "
             "direction; the beeswarm values returned with the result show the direction row "
             "by row. ",
             "Comment lire ces chiffres\xc2\xa0: une valeur SHAP mesure de combien une variable "
             "éloigne une prédiction de la prédiction moyenne du modèle. Le classement fait la "
             "moyenne de la taille de ces écarts sur les lignes\xc2\xa0: il dit à quel point le "
             "modèle utilise une variable, pas dans quel sens\xc2\xa0; les valeurs par ligne "
             "(beeswarm) fournies avec le résultat montrent le sens ligne par ligne. ");
    else if (f->used == XE_USE_PERMUTATION)
        SAY0(n,
             "How to read this: a drop close to zero means the model barely uses the feature; "
             "a negative drop means shuffling it even helped, a sign that the feature only "
             "adds noise. The spread over the repeats tells how much of a difference is luck. ",
             "Comment lire ces chiffres\xc2\xa0: une baisse proche de zéro signifie que le "
             "modèle se sert peu de la variable\xc2\xa0; une baisse négative signifie que la "
             "mélanger a même aidé, signe qu'elle n'apporte que du bruit. L'écart entre les "
             "répétitions indique la part de hasard dans une différence. ");
    else if (f->used == XE_USE_LIME && !f->local)
        SAY0(n,
             "How to read this: each row got its own simple local model; the ranking averages "
             "the size of their weights, so it shows which features drive decisions locally, "
             "row after row. ",
             "Comment lire ces chiffres\xc2\xa0: chaque ligne a reçu son propre modèle local "
             "simple\xc2\xa0; le classement fait la moyenne de la taille de leurs poids et "
             "montre donc quelles variables pèsent localement, ligne après ligne. ");
    else if (f->used == XE_USE_LIME)
        SAY0(n,
             "How to read this: each weight says how much the prediction moves when the "
             "instance satisfies the condition rather than not, all else being typical. ",
             "Comment lire ces chiffres\xc2\xa0: chaque poids indique de combien la prédiction "
             "bouge quand l'instance remplit la condition plutôt que non, le reste étant "
             "typique. ");
}

static void inter_next(struct nb *n, const struct nfacts *f)
{
    if (f->local)
        SAY0(n,
             "Next steps: compare this case with the global explanation to see whether it "
             "follows the model's usual logic, and try a few similar rows: if a small change "
             "of one value flips the answer, the case sits close to a decision boundary. ",
             "Pour aller plus loin\xc2\xa0: comparez ce cas à l'explication globale pour voir "
             "s'il suit la logique habituelle du modèle, et essayez quelques lignes "
             "semblables\xc2\xa0: si un petit changement d'une valeur renverse la réponse, le "
             "cas se trouve près d'une frontière de décision. ");
    else
        SAY0(n,
             "Next steps: ask for local explanations of a few individual rows to see these "
             "effects case by case, and check with someone who knows the domain that the "
             "leading features make sense. ",
             "Pour aller plus loin\xc2\xa0: demandez des explications locales de quelques "
             "lignes pour voir ces effets au cas par cas, et vérifiez avec quelqu'un qui "
             "connaît le domaine que les variables de tête ont du sens. ");
}

static void inter_text(struct nb *n, const struct nfacts *f)
{
    inter_intro(n, f);
    if (f->local)
        inter_local(n, f);
    else if (f->used == XE_USE_PDP)
        inter_pdp(n, f);
    else
        inter_ranking(n, f);
    nb_par(n);
    inter_reading(n, f);
    say_check(n, f);
    SAY0(n,
         "Keep in mind that importance is not causation: these values describe how the model "
         "uses the data, not how the world works, and they are only as good as the model's "
         "accuracy.",
         "Gardez à l'esprit qu'importance ne veut pas dire causalité\xc2\xa0: ces valeurs "
         "décrivent la façon dont le modèle utilise les données, pas le fonctionnement du "
         "monde, et elles ne valent que ce que vaut la précision du modèle. ");
    nb_par(n);
    inter_next(n, f);
}

/* ------------------------------------------------------------------ expert */

static void expert_method(struct nb *n, const struct nfacts *f)
{
    switch (f->used) {
    case XE_TREE_SHAP:
        SAY0(n,
             "Method: path-dependent TreeSHAP. The value of a coalition is the tree's "
             "conditional expectation estimated along its paths (splits on absent features "
             "average both children by training cover), and the exact Shapley values of that "
             "game are computed in polynomial time; one-hot columns are summed per input "
             "feature. ",
             "Méthode\xc2\xa0: TreeSHAP dépendant des chemins. La valeur d'une coalition est "
             "l'espérance conditionnelle de l'arbre estimée le long de ses chemins (les "
             "divisions sur des variables absentes moyennent les deux enfants selon la "
             "couverture d'entraînement), et les valeurs de Shapley exactes de ce jeu sont "
             "calculées en temps polynomial\xc2\xa0; les colonnes one-hot sont sommées par "
             "variable d'entrée. ");
        break;
    case XE_LINEAR_SHAP:
        SAY(n,
            "Method: Linear SHAP, value = coefficient × (x − background mean) with a "
            "background of {0} training rows; it assumes independent features and is exact "
            "under that assumption. ",
            "Méthode\xc2\xa0: Linear SHAP, valeur = coefficient × (x − moyenne du fond) avec un "
            "fond de {0} lignes d'entraînement\xc2\xa0; elle suppose des variables "
            "indépendantes et est exacte sous cette hypothèse. ",
            nb_int(n, f->background));
        break;
    case XE_KERNEL_SHAP:
        SAY(n,
            "Method: KernelSHAP with {0} coalitions (paired sampling, exact enumeration when "
            "it fits) against a k-means background of {1} rows, solved by constrained "
            "weighted least squares so that the values add up exactly. ",
            "Méthode\xc2\xa0: KernelSHAP avec {0} coalitions (échantillonnage apparié, "
            "énumération exacte quand elle tient) contre un fond k-means de {1} lignes, résolu "
            "par moindres carrés pondérés sous contrainte pour que les valeurs s'additionnent "
            "exactement. ",
            nb_int(n, f->nsamples), nb_int(n, f->background));
        break;
    case XE_USE_LIME:
        SAY(n,
            "Method: LIME with quartile discretisation of the training rows, {0} perturbed "
            "samples, an exponential kernel of width 0.75·√p and a ridge surrogate on the bin "
            "indicators; weights are per condition, not per unit of the feature. ",
            "Méthode\xc2\xa0: LIME avec discrétisation en quartiles des lignes d'entraînement, "
            "{0} échantillons perturbés, un noyau exponentiel de largeur 0,75·√p et un "
            "substitut ridge sur les indicateurs de classe\xc2\xa0; les poids portent sur des "
            "conditions, pas sur des unités de la variable. ",
            nb_int(n, f->nsamples));
        break;
    case XE_USE_PERMUTATION:
        SAY(n,
            "Method: permutation importance on the held-out rows, {0} shuffles per feature, "
            "score {1}; mean and population standard deviation over the repeats. ",
            "Méthode\xc2\xa0: importance par permutation sur les lignes de test, {0} mélanges par "
            "variable, score {1}\xc2\xa0; moyenne et écart-type sur les répétitions. ",
            nb_int(n, f->repeats), score_name(n, f->perm_score));
        break;
    case XE_USE_PDP:
        SAY(n,
            "Method: brute-force partial dependence on a grid of {0} points between the 5th "
            "and 95th percentiles, with {1} ICE curves; each point averages the model over "
            "every row with the feature set to the grid value. ",
            "Méthode\xc2\xa0: dépendance partielle par force brute sur une grille de {0} points "
            "entre les 5e et 95e centiles, avec {1} courbes ICE\xc2\xa0; chaque point moyenne le "
            "modèle sur toutes les lignes, la variable fixée à la valeur de la grille. ",
            nb_int(n, f->grid), nb_int(n, f->ice));
        break;
    }
}

static const char *rows_explained(struct nb *n, const struct nfacts *f)
{
    char *t = nb_tmp(n);
    snprintf(t, NB_TMP, n->lang == XE_FR ? "%zu lignes expliquées" : "%zu rows explained", f->rows);
    return t;
}

static void expert_metrics(struct nb *n, const struct nfacts *f)
{
    if (f->cls)
        SAY(n, "Test metrics: accuracy {0}, macro F1 {1}{2}{3}. ",
            "Métriques de test\xc2\xa0: exactitude {0}, F1 macro {1}{2}{3}. ", nb_num(n, f->acc, 3),
            nb_num(n, f->f1, 3), isfinite(f->auc) ? ", ROC AUC " : "",
            isfinite(f->auc) ? nb_num(n, f->auc, 3) : "");
    else
        SAY(n, "Test metrics: R² {0}, RMSE {1}, MAE {2}. ",
            "Métriques de test\xc2\xa0: R² {0}, RMSE {1}, MAE {2}. ", nb_num(n, f->r2, 3),
            nb_sig(n, f->rmse), nb_sig(n, f->mae));
    SAY(n, "The explanation used {0} ({1}). ", "L'explication a utilisé {0} ({1}). ",
        f->split_test ? (n->lang == XE_FR ? "la partition de l'expérience reproduite"
                                          : "the experiment's reproduced train/test split")
                      : (n->lang == XE_FR ? "toutes les lignes (partition non reproductible)"
                                          : "all rows (the split could not be reproduced)"),
        f->local ? which_row(n, f) : rows_explained(n, f));
}

static void expert_findings(struct nb *n, const struct nfacts *f)
{
    if (f->local) {
        inter_local(n, f);
    } else if (f->used == XE_USE_PDP) {
        inter_pdp(n, f);
    } else {
        SAY0(n, "Ranking: ", "Classement\xc2\xa0: ");
        for (size_t i = 0; i < f->ntop; i++) {
            const struct nfeat *t = &f->top[i];
            SAY(n, "{0} {1}{2}{3}{4}", "{0} {1}{2}{3}{4}", nb_q(n, t->name), nb_sig(n, t->imp),
                isfinite(t->sd) ? " ± " : "", isfinite(t->sd) ? nb_sig(n, t->sd) : "",
                i + 1 < f->ntop ? ", " : ". ");
        }
        if (f->ntop)
            SAY(n, "The leader, {0}, carries {1}% of the total. ",
                "La première, {0}, porte {1}\xc2\xa0% du total. ", nb_q(n, f->top[0].name),
                nb_pct(n, f->top[0].share));
        if (f->ntop && f->top[0].strongest && f->multi)
            SAY(n, "Its attribution concentrates on the output {0}. ",
                "Son attribution se concentre sur la sortie {0}. ", nb_q(n, f->top[0].strongest));
        if (f->used == XE_USE_PERMUTATION && f->ntop && f->top[0].sd > 0)
            SAY(n,
                "The baseline {0} is {1} on {2} held-out rows; the leader's drop is {3} times "
                "its standard deviation over the repeats. ",
                "La base ({0}) vaut {1} sur {2} lignes de test\xc2\xa0; la baisse de la première "
                "variable vaut {3} fois son écart-type sur les répétitions. ",
                score_name(n, f->perm_score), nb_num(n, f->perm_base, 3), nb_int(n, (long)f->rows),
                nb_num(n, f->top[0].imp / f->top[0].sd, 1));
    }
}

/* Where to look next (expert). */
static void expert_further(struct nb *n, const struct nfacts *f)
{
    if (is_shap(f) && f->local)
        SAY0(n,
             "Further checks: explain neighbouring rows to see whether these attributions are "
             "stable, and compare with LIME, whose surrogate weights should agree in sign for "
             "the leading features.",
             "Vérifications utiles\xc2\xa0: expliquez des lignes voisines pour voir si ces "
             "attributions sont stables, et comparez avec LIME, dont les poids du substitut "
             "devraient avoir le même signe pour les variables de tête.");
    else if (is_shap(f))
        SAY0(n,
             "Further checks: the beeswarm sample shows whether the leader's effect is "
             "monotonic or changes sign across rows; permutation importance on the test rows "
             "separates what the model uses from what generalises.",
             "Vérifications utiles\xc2\xa0: l'échantillon beeswarm montre si l'effet de la "
             "première variable est monotone ou change de signe selon les lignes\xc2\xa0; "
             "l'importance par permutation sur les lignes de test distingue ce que le modèle "
             "utilise de ce qui se généralise.");
    else if (f->used == XE_USE_LIME)
        SAY0(n,
             "Further checks: rerun with other seeds and another kernel width; weights whose "
             "sign flips are not reliable. KernelSHAP on the same instance gives attributions "
             "with an additivity guarantee to compare against.",
             "Vérifications utiles\xc2\xa0: relancez avec d'autres graines et une autre largeur "
             "de noyau\xc2\xa0; les poids dont le signe change ne sont pas fiables. KernelSHAP "
             "sur la même instance donne des attributions additives à comparer.");
    else if (f->used == XE_USE_PERMUTATION)
        SAY0(n,
             "Further checks: more repeats narrow the deviations; permuting correlated "
             "features together avoids the twin effect; SHAP values attribute individual "
             "predictions rather than the test score and make a useful contrast.",
             "Vérifications utiles\xc2\xa0: davantage de répétitions resserrent les "
             "écarts\xc2\xa0; permuter ensemble les variables corrélées évite l'effet de "
             "jumelle\xc2\xa0; les valeurs SHAP attribuent des prédictions individuelles plutôt "
             "que le score de test et offrent un contraste utile.");
    else
        SAY0(n,
             "Further checks: inspect the ICE curves for heterogeneity, restrict the grid to "
             "the data's dense region, and prefer accumulated local effects (ALE) when "
             "features are strongly correlated, since ALE avoids unrealistic combinations.",
             "Vérifications utiles\xc2\xa0: examinez l'hétérogénéité des courbes ICE, limitez "
             "la grille à la zone dense des données, et préférez les effets locaux accumulés "
             "(ALE) quand les variables sont fortement corrélées, car ils évitent les "
             "combinaisons irréalistes.");
}

static void expert_caveats(struct nb *n, const struct nfacts *f)
{
    if (f->corr_a && f->corr_b && isfinite(f->corr))
        SAY(n, "Interactions and dependence: {0} and {1} correlate at r = {2}. ",
            "Interactions et dépendance\xc2\xa0: {0} et {1} sont corrélées à r = {2}. ",
            nb_q(n, f->corr_a), nb_q(n, f->corr_b), nb_num(n, f->corr, 2));
    else
        SAY0(n, "Interactions and dependence: ", "Interactions et dépendance\xc2\xa0: ");
    if (is_shap(f))
        SAY0(n,
             "SHAP splits each interaction effect equally between the features involved, and "
             "correlated features share credit (the path-dependent and kernel estimates do so "
             "differently); SHAP interaction values would separate main and pairwise effects. ",
             "SHAP partage chaque effet d'interaction à parts égales entre les variables "
             "concernées, et des variables corrélées se partagent le crédit (les estimations "
             "par chemins et par noyau le font différemment)\xc2\xa0; les valeurs d'interaction "
             "SHAP sépareraient effets principaux et effets par paires. ");
    else
        SAY0(n,
             "perturbing one feature at a time evaluates the model on combinations that may "
             "never occur in the data when features are correlated, which can inflate or hide "
             "an effect; interactions are averaged out. ",
             "perturber une variable à la fois évalue le modèle sur des combinaisons qui "
             "n'existent peut-être pas dans les données quand les variables sont corrélées, ce "
             "qui peut gonfler ou masquer un effet\xc2\xa0; les interactions sont moyennées. ");
    say_residual(n, f);
    SAY0(n,
         "These attributions describe the fitted model on this data; they are not causal "
         "effects.",
         "Ces attributions décrivent le modèle ajusté sur ces données\xc2\xa0; ce ne sont pas "
         "des effets causaux.");
}

/* What the method assumes, and how stable the figures are (expert). */
static void expert_assumptions(struct nb *n, const struct nfacts *f)
{
    static const char *const what[][2] = {
        {"Because the path-dependent variant follows the training cover, it estimates "
         "conditional expectations: a feature no tree splits on gets exactly zero, and "
         "correlated features share the credit as the trees happened to split on them. ",
         "Comme la variante dépendante des chemins suit la couverture d'entraînement, elle "
         "estime des espérances conditionnelles\xc2\xa0: une variable sur laquelle aucun arbre "
         "ne se divise reçoit exactement zéro, et des variables corrélées se partagent le "
         "crédit selon les divisions des arbres. "},
        {"Independence is the key assumption: with correlated inputs, the attributions follow "
         "the coefficients, not the data's joint distribution. ",
         "L'indépendance est l'hypothèse clé\xc2\xa0: avec des entrées corrélées, les "
         "attributions suivent les coefficients, pas la distribution jointe des données. "},
        {"Absent features take the background's values (interventional expectation), which "
         "breaks the dependence between features; the sampling error shrinks as the number "
         "of coalitions grows. ",
         "Les variables absentes prennent les valeurs du fond (espérance interventionnelle), ce "
         "qui rompt la dépendance entre variables\xc2\xa0; l'erreur d'échantillonnage diminue "
         "quand le nombre de coalitions augmente. "},
        {"The surrogate is only valid near the instance; the kernel width decides how near, "
         "and the weights depend on the quartile bins rather than on the exact values. ",
         "Le substitut ne vaut qu'au voisinage de l'instance\xc2\xa0; la largeur du noyau "
         "décide de ce voisinage, et les poids dépendent des quartiles plutôt que des valeurs "
         "exactes. "},
        {"It measures what the model needs to keep its test score, including features it "
         "uses only through interactions, but a feature with a correlated twin can look "
         "unimportant because the twin stands in for it. ",
         "Elle mesure ce dont le modèle a besoin pour garder son score de test, y compris les "
         "variables utilisées seulement par interactions, mais une variable ayant une jumelle "
         "corrélée peut sembler inutile car la jumelle la remplace. "},
        {"Averages hide heterogeneity: ICE curves that cross the average reveal interactions, "
         "and grid points far from the data are extrapolations. ",
         "Les moyennes cachent l'hétérogénéité\xc2\xa0: des courbes ICE qui croisent la moyenne "
         "révèlent des interactions, et les points de grille loin des données sont des "
         "extrapolations. "},
    };
    nb_tpl(n, what[f->used][n->lang == XE_FR ? 1 : 0], NULL, 0);
    if (f->used == XE_TREE_SHAP || f->used == XE_LINEAR_SHAP)
        SAY0(n, "No sampling is involved, so the values are reproducible to the last bit. ",
             "Aucun échantillonnage n'intervient\xc2\xa0: les valeurs sont reproductibles au bit "
             "près. ");
    else
        SAY(n,
            "The random draws are seeded (seed {0}): the same request gives the same figures, "
            "and another seed shows how much they move. ",
            "Les tirages aléatoires sont initialisés (graine {0})\xc2\xa0: la même demande donne "
            "les mêmes chiffres, et une autre graine montre à quel point ils bougent. ",
            nb_int(n, f->seed));
}

static void expert_text(struct nb *n, const struct nfacts *f)
{
    SAY(n, "{0} of a {1} model predicting {2} ({3}). ",
        "{0}\xc2\xa0: modèle {1}, cible {2} ({3}). ",
        f->local ? (n->lang == XE_FR ? "Explication locale" : "Local explanation")
                 : (n->lang == XE_FR ? "Explication globale" : "Global explanation"),
        alg_name(f), nb_q(n, f->target),
        f->cls ? (n->lang == XE_FR ? "classification" : "classification")
               : (n->lang == XE_FR ? "régression" : "regression"));
    if (f->local)
        say_prediction(n, f);
    expert_method(n, f);
    expert_assumptions(n, f);
    nb_par(n);
    expert_metrics(n, f);
    nb_par(n);
    expert_findings(n, f);
    nb_par(n);
    expert_caveats(n, f);
    nb_par(n);
    expert_further(n, f);
}

/* ------------------------------------------------------------------ entry points */

char *narrative_text(const json_t *result, enum xe_audience audience, enum xe_lang lang)
{
    struct nfacts f;
    facts_read(&f, result, audience, lang);
    struct nb *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    buf_init(&n->b, (size_t)1 << 20);
    n->lang = lang;
    if (audience == XE_EXPERT)
        expert_text(n, &f);
    else if (audience == XE_INTERMEDIATE)
        inter_text(n, &f);
    else
        novice_text(n, &f);
    nb_par(n);
    while (n->b.len && (n->b.data[n->b.len - 1] == '\n' || n->b.data[n->b.len - 1] == ' '))
        n->b.data[--n->b.len] = '\0';
    char *text = buf_steal(&n->b);
    free(n);
    return text;
}

json_t *narrative_all(const json_t *result)
{
    json_t *all = json_object();
    for (int l = XE_EN; all && l <= XE_FR; l++) {
        json_t *per = json_object();
        for (int a = XE_NOVICE; per && a <= XE_EXPERT; a++) {
            char *t = narrative_text(result, (enum xe_audience)a, (enum xe_lang)l);
            if (!t) {
                json_decref(per);
                json_decref(all);
                return NULL;
            }
            json_object_set_new(per, xe_audience_name((enum xe_audience)a), json_string(t));
            free(t);
        }
        json_object_set_new(all, xe_lang_name((enum xe_lang)l), per);
    }
    return all;
}

size_t narrative_words(const char *text)
{
    size_t n = 0;
    int in = 0;
    for (const char *p = text; p && *p; p++) {
        int sp = *p == ' ' || *p == '\n' || *p == '\t';
        n += !sp && !in;
        in = !sp;
    }
    return n;
}
