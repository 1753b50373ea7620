"""chainrule: neural networks from first principles on NumPy.

The whole method in four ideas: a *layer* computes forward and applies the
chain rule backward, a *loss* says how wrong the output is, each *parameter*
carries its gradient, and an *optimizer* steps the parameters downhill.
"""

from . import (
    answers,
    callbacks,
    datasets,
    diagnostics,
    export,
    initializers,
    kernels,
    metrics,
    plots,
    recipe,
)
from ._version import __version__ as __version__  # its one home: modules read it there
from .activations import (
    ELU,
    GELU,
    SELU,
    Activation,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
    activation_from_functions,
    get_activation,
)
from .callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from .clipping import clip_grad_norm, clip_grad_value
from .diagnostics import Diagnostics, diagnose
from .doctor import DoctorResult, doctor
from .embedding import Embedding
from .gradcheck import GradcheckResult, gradcheck
from .initializers import get_initializer
from .layer import Layer
from .layers import BatchNorm, Dense, Dropout
from .losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Hinge, Huber, Loss, get_loss
from .merge import Add, Concatenate, Multiply
from .network import Network, Sequential
from .node import Input, Node
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get_optimizer
from .parameter import Parameter
from .perceptron import ConvergenceWarning, Perceptron
from .preprocessing import Preprocessor
from .progress import ProgressBar
from .schedules import CosineAnnealingLR, ExponentialLR, ReduceLROnPlateau, Schedule, StepLR
from .search import SearchResult, search
from .serialization import load, load_checkpoint, save
from .trace import Trace, trace
from .training import DivergenceWarning, History, fit

# chainrule.sklearn (scikit-learn estimators) is imported on demand, as
# `from chainrule.sklearn import MLPClassifier`: scikit-learn stays optional.

__all__ = [
    "Diagnostics",
    "DoctorResult",
    "Preprocessor",
    "ProgressBar",
    "Trace",
    "diagnose",
    "fit",
    "diagnostics",
    "doctor",
    "kernels",
    "load_checkpoint",
    "plots",
    "recipe",
    "save",
    "search",
    "SearchResult",
    "trace",
    "Activation",
    "Add",
    "Concatenate",
    "Embedding",
    "Input",
    "Multiply",
    "Network",
    "Node",
    "Adagrad",
    "Adam",
    "AdamW",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Callback",
    "ConvergenceWarning",
    "CosineAnnealingLR",
    "CrossEntropy",
    "Dense",
    "DivergenceWarning",
    "Dropout",
    "ELU",
    "EarlyStopping",
    "ExponentialLR",
    "GELU",
    "GradcheckResult",
    "Hinge",
    "History",
    "Huber",
    "Identity",
    "LambdaCallback",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MAE",
    "MSE",
    "Mish",
    "ModelCheckpoint",
    "Optimizer",
    "Parameter",
    "Perceptron",
    "RMSprop",
    "ReduceLROnPlateau",
    "ReLU",
    "SELU",
    "SGD",
    "Schedule",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Step",
    "StepLR",
    "Tanh",
    "activation_from_functions",
    "answers",
    "callbacks",
    "clip_grad_norm",
    "clip_grad_value",
    "datasets",
    "export",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_optimizer",
    "gradcheck",
    "initializers",
    "load",
    "metrics",
]
