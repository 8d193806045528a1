"""Evaluate a compare folder with the default classifier features (and, for Fashion-MNIST, a real-data row):
    DIVKIT_CACHE=... python docs/results/images-fashion-mnist-eval.py runs/images-fmnist 2000"""
import json, sys, time
import torch
from gan import data, image_eval
from gan.features import classifier_for
folder, n = sys.argv[1], int(sys.argv[2])
t = time.time()
recs = image_eval.evaluate_folder(folder, n)
if "stacked" not in folder:   # the noise floor: a second draw of real images scored as a generator
    ds = data.get("fashion_mnist")
    clf = image_eval.default_extractor(ds, "fashion_mnist-native")
    r = image_eval.evaluate_generator(lambda k, s: ds.sample(k, generator=torch.Generator().manual_seed(s + 1000)),
                                      ds, clf, n, real_key="fashion_mnist-native")
    recs.append({"variant": "real data (another draw)", "run": None, **r})
json.dump(recs, open(f"{folder}/image_metrics.json", "w"), indent=1, allow_nan=False)
print(image_eval.table_markdown(recs)); print("seconds", time.time() - t)
