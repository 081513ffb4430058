"""PA2 as the handout trains it: each network, lr 0.1, batch 100, 3 epochs; test accuracy and time.

    python benchmarks/pa2_accuracy.py [--data-dir DIR] [--epochs 3] [--limit N]

Trains the reference two_layer_cnn, three_layer_cnn and three_layer_nn (ReLU) with
reference.train.sgd_train on the training set (or a seeded stratified ``--limit`` subset),
logs train/valid loss per epoch (entry 0 before training; valid = a stratified part of the
test set), then prints the accuracy on the whole test set and the wall time per network.
Not part of CI: the full set takes a long while on a laptop CPU.
"""

import argparse
import resource
import time

import numpy as np

from reference import data, networks
from reference.train import evaluate, sgd_train

PA2_NETWORKS = ("two_layer_cnn", "three_layer_cnn", "three_layer_nn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST folder (default: GRADER_DATA_DIR or the cache folder)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, help="train on a stratified subset of N images")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--valid-size", type=int, default=1000, help="test images for the per-epoch valid loss")
    parser.add_argument("--train-eval-size", type=int, default=2000,
                        help="training images for the per-epoch train loss (0: all)")
    parser.add_argument("--init", default="0.01", help="weight_init_std: a number or 'he'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nets", nargs="+", default=list(PA2_NETWORKS), choices=sorted(networks.NETWORKS))
    args = parser.parse_args(argv)

    folder = data.find_data_dir(args.data_dir)
    labels = data.load_labels("train", folder)
    train_idx = None if args.limit is None else data.stratified_subset(labels, min(args.limit, len(labels)), args.seed)
    x, t = data.load_mnist("train", folder, indices=train_idx)
    x_test, t_test = data.load_mnist("test", folder)
    valid_idx = data.stratified_subset(t_test, args.valid_size, args.seed)
    init = args.init if args.init == "he" else float(args.init)
    print(f"data: {folder}, {len(x)} training images, {len(x_test)} test images "
          f"({len(valid_idx)} of them for the valid loss); lr {args.lr}, batch {args.batch_size}, "
          f"{args.epochs} epochs, weight_init_std {init}")

    rows = []
    for name in args.nets:
        net = networks.build(name, weight_init_std=init, seed=args.seed)
        started = time.perf_counter()
        history = sgd_train(net, x, t, x_test[valid_idx], t_test[valid_idx], lr=args.lr,
                            batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                            train_eval_size=args.train_eval_size or None,
                            on_epoch=lambda epoch, h: print(
                                f"  {name} epoch {epoch}: train_loss {h['train_loss'][-1]:.4f} "
                                f"valid_loss {h['valid_loss'][-1]:.4f} valid_acc {h['valid_acc'][-1]:.4f} "
                                f"({time.perf_counter() - started:.0f} s)", flush=True))
        _, test_acc = evaluate(net, x_test, t_test)
        seconds = time.perf_counter() - started
        rows.append((name, test_acc, history["seconds"], seconds))
        print(f"{name}: test accuracy {test_acc:.4f}; training {history['seconds']:.1f} s, "
              f"with the test evaluation {seconds:.1f} s")
        print(f"  train_loss {np.round(history['train_loss'], 4).tolist()}")
        print(f"  valid_loss {np.round(history['valid_loss'], 4).tolist()}", flush=True)

    print(f"\n{'network':<18}{'test acc':>10}{'train s':>10}{'total s':>10}")
    for name, acc, train_s, total_s in rows:
        print(f"{name:<18}{acc:>10.4f}{train_s:>10.1f}{total_s:>10.1f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
