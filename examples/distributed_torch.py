"""Train a chainrule network on several processes or machines with PyTorch, then bring it back.

chainrule has no distributed engine of its own. When one network needs more
than one machine, hand it to PyTorch exactly (``chainrule.export.to_torch``),
train it with ``torch.distributed`` (DistributedDataParallel on the gloo
backend on CPUs, or nccl on GPUs with ``--device cuda``), and bring the trained weights
back with ``chainrule.export.from_torch``: the returned chainrule network
predicts what the torch model predicts.

What happens:

1. every process builds the same chainrule network (``--hidden``, or a model
   file given with ``--model``) and loads the same data set (a generated one,
   ``--dataset``, or a CSV file, ``--csv``);
2. ``to_torch`` turns it into a ``torch.nn.Sequential`` (a graph network with one
   input and one output, e.g. a residual one saved with ``net.save``, into a
   ``GraphModule`` that follows its graph); DistributedDataParallel
   wraps it, and a DistributedSampler gives each process its own share of
   every epoch; gradients are averaged across processes after each backward;
3. process 0 turns the trained module back into chainrule with ``from_torch``,
   checks that both give the same outputs, and saves the model (``--out``).

On one machine (N processes over the loopback interface; the script spawns them)::

    python examples/distributed_torch.py --nproc 2 --dataset spirals --epochs 100 --out model.safetensors

Across machines, the same script under ``torchrun`` (it reads RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT from the environment torchrun sets, and spawns
nothing itself). On each of two machines, 4 processes per machine, the first
machine reachable at 10.0.0.1::

    torchrun --nnodes=2 --nproc-per-node=4 --node-rank=0 --master-addr=10.0.0.1 \\
        --master-port=29500 examples/distributed_torch.py --dataset spirals --out model.safetensors
    torchrun --nnodes=2 --nproc-per-node=4 --node-rank=1 --master-addr=10.0.0.1 \\
        --master-port=29500 examples/distributed_torch.py --dataset spirals --out model.safetensors

(``--node-rank=1`` on the second machine.) Every machine needs this script,
chainrule, torch, and the data (a generated data set is the same everywhere; a
``--csv`` file must be copied to each machine); only global rank 0 writes
``--out``. Gloo picks the network interface from the host name; set
``GLOO_SOCKET_IFNAME`` (e.g. ``eth0``) if the machines cannot reach each
other. On one machine, ``torchrun --standalone --nproc-per-node=2
examples/distributed_torch.py ...`` works as well.

On GPUs: ``--device cuda`` (or ``--device auto``, which takes the GPUs where torch
sees them and the CPU elsewhere) puts process ``i`` of each machine on its GPU
``cuda:i`` and talks over nccl; the model and every batch move to that GPU, and
rank 0 brings the outputs and weights back to the CPU for ``from_torch``. One
process per GPU: on a machine with 8 GPUs::

    python examples/distributed_torch.py --device cuda --nproc 8 --dataset spirals --out model.safetensors

``--backend`` defaults to nccl on cuda and gloo on the CPU; nccl on the CPU, or
cuda where there is none, is refused with a one-line error before any process
starts.

``--model model.safetensors`` starts from a saved chainrule model (for example
one trained on a laptop with ``net.fit``), keeping its loss; ``--npz`` also
writes the inputs, the torch model's outputs and the loss history, for checking.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.export import from_torch, to_torch

# chainrule loss name -> the torch loss computing the same mean over the batch
SUPPORTED_LOSSES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "huber")
REGRESSION_DATASETS = ("sin",)
DEVICES = ("cpu", "cuda", "auto")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Train a chainrule network with torch DistributedDataParallel (gloo on CPUs, "
        "nccl on GPUs) and "
        "bring it back into chainrule.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", default="moons", help=f"one of {', '.join(cr.datasets.DATASETS)}"
    )
    data.add_argument("--n-samples", type=int, default=1000, help="size of a generated data set")
    data.add_argument("--noise", type=float, default=0.1, help="noise of a generated data set")
    data.add_argument("--data-seed", type=int, default=0, help="seed of a generated data set")
    data.add_argument("--csv", type=Path, help="a numeric CSV file with a header row instead")
    data.add_argument("--target", help="the CSV's target column (default: the last one)")
    model = p.add_argument_group("network")
    model.add_argument("--model", type=Path, help="start from this chainrule model file")
    model.add_argument("--hidden", default="32,32", help="hidden widths of a new network")
    model.add_argument("--activation", default="tanh", help="activation of a new network")
    model.add_argument("--batchnorm", action="store_true", help="BatchNorm after each hidden layer")
    model.add_argument("--dropout", type=float, default=0.0, help="Dropout after each hidden layer")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    model.add_argument("--loss", choices=SUPPORTED_LOSSES, help="default: the model's, or by data")
    train = p.add_argument_group("training")
    train.add_argument("--nproc", type=int, default=2, help="processes to spawn on this machine")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=32, help="per process")
    train.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    train.add_argument("--lr", type=float, default=0.01)
    train.add_argument("--seed", type=int, default=0, help="network initialisation and shuffling")
    train.add_argument("--threads", type=int, default=1, help="torch threads per process")
    train.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu; cuda: process i of a machine on its GPU cuda:i; auto: cuda if torch sees one",
    )
    train.add_argument(
        "--backend",
        help="gloo (CPUs, or GPUs) or nccl (GPUs only); default: nccl on cuda, else gloo",
    )
    train.add_argument("--log-every", type=int, default=10, help="print every this many epochs")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("model.safetensors"))
    out.add_argument("--npz", type=Path, help="also save inputs, torch outputs and losses here")
    args = p.parse_args(argv)
    if args.nproc < 1:
        p.error("--nproc must be at least 1")
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be positive")
    return args


# -- data and network (the same in every process) ---------------------------------------------
def load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: a generated data set, or a numeric CSV with a header row."""
    if args.csv is None:
        kwargs = {}
        if args.dataset not in ("xor", "and", "or", "digits"):
            kwargs = {"n_samples": args.n_samples, "noise": args.noise, "seed": args.data_seed}
        if args.dataset == "blobs":
            kwargs = {"n_samples": args.n_samples, "seed": args.data_seed}
        X, y = cr.datasets.load(args.dataset, **kwargs)
        return np.asarray(X, np.float64), np.asarray(y)
    if not args.csv.is_file():
        raise FileNotFoundError(f"no CSV file at {args.csv}")
    table = np.genfromtxt(args.csv, delimiter=",", names=True, dtype=np.float64, encoding="utf-8")
    names = list(table.dtype.names or ())
    if len(names) < 2:
        raise ValueError(f"{args.csv} needs a header row and at least two numeric columns")
    target = args.target or names[-1]
    if target not in names:
        raise ValueError(f"{args.csv} has no column {target!r}; columns are {', '.join(names)}")
    X = np.stack([table[n] for n in names if n != target], axis=1)
    y = table[target]
    if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
        raise ValueError(f"{args.csv} has empty or non-numeric cells; clean or encode them first")
    return X, y


def choose_loss(args: argparse.Namespace, net: cr.Sequential | None) -> str:
    if args.loss:
        return args.loss
    if net is not None and net.loss_:
        return net.loss_
    regression = args.dataset in REGRESSION_DATASETS if args.csv is None else False
    return "mse" if regression else "cross_entropy"


def build_network(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> cr.Sequential:
    """The chainrule network to train: loaded from ``--model``, or a new MLP."""
    if args.model is not None:
        net = cr.load(args.model)
        if len(net.inputs) > 1 or len(net.outputs) > 1:
            raise ValueError(
                f"{args.model} has {len(net.inputs)} inputs and {len(net.outputs)} outputs; this "
                "example trains networks with one input (the data table) and one output"
            )
        net.loss_ = choose_loss(args, net)
        if net.n_features_in != X.shape[1]:
            raise ValueError(
                f"{args.model} expects {net.n_features_in} features but the data has {X.shape[1]}"
            )
        return net
    loss = choose_loss(args, None)
    if loss == "cross_entropy":
        n_out = int(y.max()) + 1
    elif loss == "binary_cross_entropy":
        n_out = 1
    else:
        n_out = 1 if y.ndim == 1 else y.shape[1]
    widths = [X.shape[1], *(int(w) for w in args.hidden.split(",") if w.strip())]
    layers: list[cr.Layer] = []
    for n_in, n_hidden in zip(widths[:-1], widths[1:]):
        layers.append(cr.Dense(n_in, n_hidden, activation=args.activation))
        if args.batchnorm:
            layers.append(cr.BatchNorm(n_hidden))
        if args.dropout > 0:
            layers.append(cr.Dropout(args.dropout))
    layers.append(cr.Dense(widths[-1], n_out))
    net = cr.Sequential(*layers, seed=args.seed, dtype=np.dtype(args.dtype))
    net.loss_ = loss
    return net


def model_inputs(net: cr.Sequential, X: np.ndarray) -> np.ndarray:
    """What ``net(X)`` takes: standardised first if the model carries ``preprocessing_``."""
    spec = getattr(net, "preprocessing_", None) or {}
    if "mean" in spec or "scale" in spec:
        X = (X - np.asarray(spec.get("mean", 0.0))) / np.asarray(spec.get("scale", 1.0))
    return np.ascontiguousarray(X, dtype=net.dtype)


def torch_loss_and_targets(loss: str, y: np.ndarray, net: cr.Sequential):
    """The torch loss equal to chainrule's ``loss``, and ``y`` shaped as it wants."""
    import torch

    nn = torch.nn
    if loss == "cross_entropy":
        return nn.CrossEntropyLoss(), torch.from_numpy(np.asarray(y, np.int64).ravel())
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    target = torch.from_numpy(np.asarray(y, np.float64).reshape(len(y), -1)).to(dtype)
    losses = {
        "binary_cross_entropy": nn.BCEWithLogitsLoss,
        "mse": nn.MSELoss,
        "mae": nn.L1Loss,
        "huber": nn.HuberLoss,  # delta=1.0, as chainrule's Huber()
    }
    if loss not in losses:
        raise ValueError(f"this example trains with {', '.join(SUPPORTED_LOSSES)}, not {loss!r}")
    return losses[loss](), target


# -- devices: which one, and moving things there and back ---------------------------------
def choose_device(
    device: str,
    backend: str | None,
    *,
    cuda_available: bool,
    cuda_count: int = 0,
    procs_per_machine: int | None = None,
) -> tuple[str, str]:
    """``(kind, backend)``: the device kind, ``"cpu"`` or ``"cuda"``, and the process-group backend.

    ``device`` is ``"cpu"``, ``"cuda"`` or ``"auto"`` (cuda when ``cuda_available``);
    ``backend`` defaults to nccl on cuda and gloo on cpu. Raises ``ValueError`` naming the
    fix for a combination that cannot run: cuda where torch sees no CUDA device, nccl on the
    CPU (nccl only talks between GPUs), or more processes on a machine than it has GPUs
    (each process owns one, ``cuda:<local rank>``).
    """
    if device not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    kind = ("cuda" if cuda_available else "cpu") if device == "auto" else device
    if kind == "cuda" and not cuda_available:
        raise ValueError(
            "--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False: "
            "no GPU, no driver, or a CPU-only torch build); use --device cpu, or --device auto "
            "to take a GPU only where there is one"
        )
    if backend is None:
        backend = "nccl" if kind == "cuda" else "gloo"
    if backend == "nccl" and kind != "cuda":
        why = "torch sees no CUDA device here" if device == "auto" else "--device is cpu"
        raise ValueError(
            f"--backend nccl works between CUDA GPUs only, and {why}; use --backend gloo on "
            "CPUs, or --device cuda (or auto) on a machine with GPUs"
        )
    if kind == "cuda" and procs_per_machine is not None and procs_per_machine > cuda_count:
        raise ValueError(
            f"--device cuda gives each process a GPU of its own, but this machine runs "
            f"{procs_per_machine} processes and has {cuda_count} CUDA device(s); "
            f"use --nproc {cuda_count} (or --nproc-per-node {cuda_count} under torchrun)"
        )
    return kind, backend


def local_rank(rank: int, environ: dict | None = None) -> int:
    """This process's index on its machine: torchrun's LOCAL_RANK, else the spawned rank."""
    environ = os.environ if environ is None else environ
    return int(environ.get("LOCAL_RANK", rank))


def rank_device(kind: str, local: int):
    """The ``torch.device`` of the process with local rank ``local``: cpu, or ``cuda:<local>``."""
    import torch

    return torch.device(f"cuda:{local}") if kind == "cuda" else torch.device("cpu")


def ddp_options(device) -> dict:
    """DistributedDataParallel's keywords: one GPU per process on cuda, none on the CPU."""
    if device.type == "cuda":
        return {"device_ids": [device.index], "output_device": device.index}
    return {}


def to_device(device, *tensors):
    """``tensors`` moved to ``device`` (a tuple, in order); on their device already: unchanged."""
    return tuple(t.to(device) for t in tensors)


def to_numpy(tensor) -> np.ndarray:
    """A tensor on any device as a NumPy array on the CPU (no gradient attached)."""
    return tensor.detach().cpu().numpy()


# -- one process ------------------------------------------------------------------------------
def worker(rank: int, world_size: int, args: argparse.Namespace) -> None:
    """Train on this process's share of the data; rank 0 brings the result back and saves it."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    torch.set_num_threads(args.threads)
    device = rank_device(args.device_kind, local_rank(rank))
    if device.type == "cuda":
        torch.cuda.set_device(device)  # nccl's communicator for this process uses this GPU
    dist.init_process_group(args.backend, init_method="env://", rank=rank, world_size=world_size)
    try:
        X_raw, y = load_data(args)
        net = build_network(args, X_raw, y)
        X = model_inputs(net, X_raw)
        torch.manual_seed(args.seed + rank)  # each process its own dropout masks
        model = to_torch(net).to(device).train()
        # broadcasts rank 0's weights, averages gradients
        ddp = DistributedDataParallel(model, **ddp_options(device))
        criterion, target = torch_loss_and_targets(net.loss_, y, net)
        inputs = torch.from_numpy(X)
        data = TensorDataset(inputs, target)  # stays on the CPU; each batch moves to the device
        all_inputs, all_target = to_device(device, inputs, target)
        sampler = DistributedSampler(
            data, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed
        )
        per_process = len(sampler)
        # a last batch of one row cannot be batch-normalised: drop it
        loader = DataLoader(
            data, batch_size=args.batch_size, sampler=sampler,
            drop_last=per_process > 1 and per_process % args.batch_size == 1,
        )  # fmt: skip
        if args.optimizer == "adam":
            opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
        else:
            opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)

        def full_loss() -> float:
            model.eval()
            with torch.no_grad():
                value = float(criterion(model(all_inputs), all_target))
            model.train()
            return value

        loss_before = full_loss()
        if rank == 0:
            print(
                f"{world_size} processes ({args.backend}, {device.type}), {len(X)} samples, "
                f"{per_process} per process per epoch; loss {net.loss_}: {loss_before:.4f}",
                flush=True,
            )
        history = []
        start = time.perf_counter()
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)  # a new shuffle every epoch, the same in every process
            totals = torch.zeros(2, dtype=torch.float64)
            for xb, yb in loader:
                xb, yb = to_device(device, xb, yb)
                opt.zero_grad(set_to_none=True)
                loss = criterion(ddp(xb), yb)
                loss.backward()  # DDP all-reduces (averages) the gradients here
                opt.step()
                totals += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)
            # the epoch's mean loss over all processes (nccl reduces tensors on the GPU only)
            (totals,) = to_device(device, totals)
            dist.all_reduce(totals)
            totals = totals.cpu()
            history.append(float(totals[0] / totals[1]))
            if rank == 0 and ((epoch + 1) % args.log_every == 0 or epoch + 1 == args.epochs):
                print(f"epoch {epoch + 1:4d}  training loss {history[-1]:.4f}", flush=True)
        if rank == 0:
            finish(args, net, model, all_inputs, X, y, history, loss_before, full_loss(), start)
        dist.barrier()  # keep the others until rank 0 has written its files
    finally:
        dist.destroy_process_group()


def finish(args, net, model, inputs, X, y, history, loss_before, loss_after, start) -> None:
    """Rank 0: back to chainrule on the CPU, compare with torch, save.

    ``inputs`` is ``X`` as a tensor on the model's device.
    """
    import torch

    model.eval()
    with torch.no_grad():
        torch_out = to_numpy(model(inputs))
    trained = from_torch(model.cpu(), loss=net.loss_)  # eval mode, like the module
    if getattr(net, "preprocessing_", None) is not None:
        trained.preprocessing_ = net.preprocessing_
    ours = trained(X)
    diff = float(np.max(np.abs(ours - torch_out)) / max(np.max(np.abs(torch_out)), 1e-300))
    print(
        f"trained in {time.perf_counter() - start:.1f} s; loss {loss_before:.4f} -> "
        f"{loss_after:.4f}; chainrule vs torch outputs: max relative difference {diff:.1e}",
        flush=True,
    )
    if net.loss_ in ("cross_entropy", "binary_cross_entropy"):
        labels = trained.predict(X)
        accuracy = float(np.mean(labels == np.asarray(y).reshape(labels.shape)))
        print(f"training accuracy {accuracy:.3f}", flush=True)
    trained.save(args.out)
    print(f"saved the chainrule model to {args.out}", flush=True)
    if args.npz is not None:
        tmp = args.npz.with_name(f".{args.npz.name}.tmp.npz")
        np.savez(
            tmp,
            X=X,
            torch_output=torch_out,
            epoch_loss=np.array(history),
            loss_before=loss_before,
            loss_after=loss_after,
        )
        os.replace(tmp, args.npz)


def resolve_device(args: argparse.Namespace, torchrun: bool) -> tuple[str, str]:
    """``choose_device`` for this machine's torch, GPUs and processes per machine."""
    import torch
    import torch.distributed as dist

    per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", 1)) if torchrun else args.nproc
    kind, backend = choose_device(
        args.device,
        args.backend,
        cuda_available=torch.cuda.is_available(),
        cuda_count=torch.cuda.device_count(),
        procs_per_machine=per_machine,
    )
    if backend == "nccl" and not dist.is_nccl_available():
        raise ValueError("this torch build has no nccl backend; use --backend gloo")
    return kind, backend


def _spawned(rank: int, world_size: int, args: argparse.Namespace) -> None:
    worker(rank, world_size, args)


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_interface() -> str | None:
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):  # pragma: no cover - platform dependent
        return None
    return next((n for n in ("lo", "lo0") if n in names), None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torchrun = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    try:  # fail here, once, rather than in every process
        args.device_kind, args.backend = resolve_device(args, torchrun)
        X, y = load_data(args)
        build_network(args, X, y)
        directory = args.out.parent if str(args.out.parent) else Path(".")
        if not directory.is_dir():
            raise FileNotFoundError(f"the folder of --out, {directory}, does not exist")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if torchrun:
        worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
        return 0
    import torch.multiprocessing as mp

    # N processes on this machine, talking over the loopback interface only
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(_free_loopback_port())
    loopback = _loopback_interface()
    if loopback is not None and args.backend == "gloo":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback)
    mp.spawn(_spawned, args=(args.nproc, args), nprocs=args.nproc, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
