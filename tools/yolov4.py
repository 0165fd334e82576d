"""YOLOv4 (Bochkovskiy et al., 2020) in plain PyTorch, randomly initialised.

Layout follows the reference darknet ``yolov4.cfg``:

* backbone: CSPDarknet53 -- a 3x3 stem and five CSP stages with 1, 2, 8, 8
  and 4 residual units, all with Mish activations;
* neck: SPP (max-pool 5/9/13) on the stride-32 features, then a PAN
  (top-down FPN path followed by a bottom-up path), LeakyReLU(0.1);
* heads: one 3x3 conv + a plain 1x1 conv per scale, producing
  ``anchors * (5 + classes)`` channels (255 for COCO).

The forward pass returns the raw head outputs (no sigmoid / box decoding),
ordered from the finest to the coarsest grid: for a 416x416 input the shapes
are (N,255,52,52), (N,255,26,26), (N,255,13,13). The module is traceable and
scriptable with TorchScript.
"""

from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class _MishFallback(nn.Module):
    """Mish for torch builds older than 1.9, which lack nn.Mish."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(F.softplus(x))


Mish = getattr(nn, "Mish", _MishFallback)


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm -> activation, "same" padding."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, act: str = "mish"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = Mish() if act == "mish" else nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class ResUnit(nn.Module):
    """Darknet residual unit: 1x1 conv -> 3x3 conv, added to the input."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.block = nn.Sequential(ConvBN(channels, hidden, 1), ConvBN(hidden, channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class CSPStage(nn.Module):
    """Cross Stage Partial stage of CSPDarknet53.

    A stride-2 3x3 conv halves the resolution; the result is split (by two
    1x1 convs, as in darknet) into a shortcut part and a part that goes
    through the residual units; both are concatenated and fused by a 1x1 conv.
    The first stage is special in darknet: its two parts keep the full
    channel count and its residual unit bottlenecks to half of it.
    """

    def __init__(self, cin: int, cout: int, num_units: int):
        super().__init__()
        first = num_units == 1
        part = cout if first else cout // 2
        self.down = ConvBN(cin, cout, 3, stride=2)
        self.split_shortcut = ConvBN(cout, part, 1)
        self.split_main = ConvBN(cout, part, 1)
        self.units = nn.Sequential(
            *[ResUnit(part, cout // 2 if first else part) for _ in range(num_units)]
        )
        self.post_units = ConvBN(part, part, 1)
        self.fuse = ConvBN(2 * part, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        shortcut = self.split_shortcut(x)
        main = self.post_units(self.units(self.split_main(x)))
        # darknet concatenates [main, shortcut] in that order.
        return self.fuse(torch.cat([main, shortcut], dim=1))


class CSPDarknet53(nn.Module):
    """Backbone; returns the stride-8, -16 and -32 feature maps."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBN(3, 32, 3)
        self.stage1 = CSPStage(32, 64, 1)
        self.stage2 = CSPStage(64, 128, 2)
        self.stage3 = CSPStage(128, 256, 8)
        self.stage4 = CSPStage(256, 512, 8)
        self.stage5 = CSPStage(512, 1024, 4)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.stage2(self.stage1(self.stem(x)))
        c3 = self.stage3(x)
        c4 = self.stage4(c3)
        c5 = self.stage5(c4)
        return c3, c4, c5


class SPP(nn.Module):
    """Spatial pyramid pooling: stride-1 max-pools concatenated with the input."""

    def __init__(self, sizes: Tuple[int, int, int] = (5, 9, 13)):
        super().__init__()
        self.pools = nn.ModuleList([nn.MaxPool2d(k, stride=1, padding=k // 2) for k in sizes])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats: List[torch.Tensor] = [pool(x) for pool in self.pools]
        # darknet order: largest pool first, input last.
        feats.reverse()
        feats.append(x)
        return torch.cat(feats, dim=1)


def _leaky(cin: int, cout: int, k: int, stride: int = 1) -> ConvBN:
    return ConvBN(cin, cout, k, stride, act="leaky")


def _five_convs(cin: int, c: int) -> nn.Sequential:
    """The alternating 1x1 / 3x3 block used throughout the PAN."""
    return nn.Sequential(
        _leaky(cin, c, 1),
        _leaky(c, 2 * c, 3),
        _leaky(2 * c, c, 1),
        _leaky(c, 2 * c, 3),
        _leaky(2 * c, c, 1),
    )


class Head(nn.Module):
    """3x3 conv then a linear 1x1 conv (with bias) to the raw predictions."""

    def __init__(self, cin: int, out_channels: int):
        super().__init__()
        self.conv = _leaky(cin, 2 * cin, 3)
        self.pred = nn.Conv2d(2 * cin, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pred(self.conv(x))


class YOLOv4(nn.Module):
    def __init__(self, num_classes: int = 80, num_anchors: int = 3):
        super().__init__()
        out_channels = num_anchors * (5 + num_classes)
        self.backbone = CSPDarknet53()

        # SPP block on the stride-32 features.
        self.pre_spp = nn.Sequential(_leaky(1024, 512, 1), _leaky(512, 1024, 3), _leaky(1024, 512, 1))
        self.spp = SPP()
        self.post_spp = nn.Sequential(_leaky(2048, 512, 1), _leaky(512, 1024, 3), _leaky(1024, 512, 1))

        # Top-down path: 13 -> 26 -> 52.
        self.td5_reduce = _leaky(512, 256, 1)
        self.td4_lateral = _leaky(512, 256, 1)
        self.td4 = _five_convs(512, 256)
        self.td4_reduce = _leaky(256, 128, 1)
        self.td3_lateral = _leaky(256, 128, 1)
        self.td3 = _five_convs(256, 128)

        # Bottom-up path: 52 -> 26 -> 13.
        self.bu3_down = _leaky(128, 256, 3, stride=2)
        self.bu4 = _five_convs(512, 256)
        self.bu4_down = _leaky(256, 512, 3, stride=2)
        self.bu5 = _five_convs(1024, 512)

        self.head3 = Head(128, out_channels)
        self.head4 = Head(256, out_channels)
        self.head5 = Head(512, out_channels)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c3, c4, c5 = self.backbone(x)
        p5 = self.post_spp(self.spp(self.pre_spp(c5)))

        up5 = F.interpolate(self.td5_reduce(p5), scale_factor=2.0, mode="nearest")
        p4 = self.td4(torch.cat([self.td4_lateral(c4), up5], dim=1))
        up4 = F.interpolate(self.td4_reduce(p4), scale_factor=2.0, mode="nearest")
        p3 = self.td3(torch.cat([self.td3_lateral(c3), up4], dim=1))

        n4 = self.bu4(torch.cat([self.bu3_down(p3), p4], dim=1))
        n5 = self.bu5(torch.cat([self.bu4_down(n4), p5], dim=1))

        return self.head3(p3), self.head4(n4), self.head5(n5)
