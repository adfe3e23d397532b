#!/usr/bin/python3
# sklearn_reference.py: scikit-learn's test accuracy for every IBIS-X classifier on iris, wine
# and breast cancer, averaged over seeded stratified splits, for tests/unit/test_mlrun.c.
#
# Each run is what an IBIS-X experiment does with the default preprocessing: a stratified
# train/test split (test_size 0.2, random_state = seed), a StandardScaler fitted on the train
# rows, then the learner with the hyperparameters below (random_state = seed where it has
# one). Our splits draw other rows than NumPy's generator, so single runs cannot be compared;
# the test compares the mean over SEEDS seeds on both sides (within 2 points).
#
# Regenerate (Debian's python3-sklearn 1.2.1):
#   /usr/bin/python3 bench/ml/sklearn_reference.py > tests/fixtures/sklearn_reference.json
import json
import os

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = 50
TEST_SIZE = 0.2
DATASETS = ("iris", "wine", "breast_cancer")

# name: (IBIS-X hyperparameters, scikit-learn estimator for a seed)
LEARNERS = {
    "decision_tree": ({"max_depth": 5},
                      lambda s: DecisionTreeClassifier(max_depth=5, random_state=s)),
    "random_forest": ({"n_estimators": 100},
                      lambda s: RandomForestClassifier(n_estimators=100, random_state=s)),
    "gradient_boosting": ({}, lambda s: HistGradientBoostingClassifier(random_state=s)),
    "logistic_regression": ({}, lambda s: LogisticRegression()),
    "knn": ({}, lambda s: KNeighborsClassifier()),
    "gaussian_nb": ({}, lambda s: GaussianNB()),
}


def load(name):
    a = np.loadtxt(os.path.join(ROOT, "tests", "fixtures", name + ".csv"), delimiter=",",
                   skiprows=1)
    return a[:, :-1], a[:, -1]


def mean_accuracy(x, y, make):
    scores = []
    for seed in range(SEEDS):
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_SIZE, random_state=seed,
                                              stratify=y)
        model = make_pipeline(StandardScaler(), make(seed)).fit(xtr, ytr)
        scores.append(model.score(xte, yte))
    return round(float(np.mean(scores)), 6)


def main():
    out = {
        "comment": "scikit-learn mean test accuracy over seeded stratified splits; regenerate "
                   "with /usr/bin/python3 bench/ml/sklearn_reference.py > "
                   "tests/fixtures/sklearn_reference.json",
        "sklearn_version": sklearn.__version__,
        "seeds": SEEDS,
        "test_size": TEST_SIZE,
        "hyperparameters": {name: hp for name, (hp, _) in LEARNERS.items()},
        "accuracy": {},
    }
    for ds in DATASETS:
        x, y = load(ds)
        out["accuracy"][ds] = {name: mean_accuracy(x, y, make)
                               for name, (_, make) in LEARNERS.items()}
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
