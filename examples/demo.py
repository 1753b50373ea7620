"""chainrule demo: a 64-128-10 ReLU network learns handwritten digits.

Uses scikit-learn's bundled 8x8 digits (no download), trains with Adam and
mini-batch backpropagation, and prints the network, the learning curve and
the test accuracy. Run: ``python examples/demo.py``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import chainrule as cr


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

    net = cr.Sequential(
        cr.Dense(64, 128, activation="relu"),
        cr.Dense(128, 10),  # logits; cross_entropy applies the softmax
        seed=0,
    )
    print(net.summary(), end="\n\n")

    start = time.perf_counter()
    history = net.fit(
        X_train,
        y_train,
        loss="cross_entropy",
        optimizer="adam",
        lr=1e-3,
        epochs=40,
        batch_size=32,
        validation_data=(X_test, y_test),
        metrics=["accuracy"],
    )
    seconds = time.perf_counter() - start
    for epoch in range(0, len(history), 5):
        print(
            f"epoch {epoch + 1:3d}  loss {history['loss'][epoch]:.4f}  "
            f"val_loss {history['val_loss'][epoch]:.4f}  "
            f"val_accuracy {history['val_accuracy'][epoch]:.3f}"
        )
    accuracy = np.mean(net.predict(X_test) == y_test)
    print(f"\ntrained {len(history)} epochs in {seconds:.2f}s; test accuracy {accuracy:.2%}")


if __name__ == "__main__":
    main()
