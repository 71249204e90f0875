#!/usr/bin/python3
"""A plain DANN in PyTorch-Python (Ganin et al., JMLR 2016): the reference dida's own trainer is held to.

Reads a pair as `dida data export` writes it (PAIR/source/<class>/*.png and PAIR/target/<class>/*.png,
each file's split in its name: train_, val_, test_) and trains the 2016 paper's digit network: conv 5x5 (32) + ReLU +
max-pool 2, conv 5x5 (48) + ReLU + max-pool 2, then a label head FC 100-100-classes and a domain
head FC 100-2 behind a gradient reversal layer. SGD with momentum 0.9, learning rate
0.01 / (1 + 10 p)^0.75, reversal weight 2 / (1 + exp(-10 p)) - 1, batches of 64 source + 64 target
images, no batch norm. Prints the target-test accuracy after every epoch ("epoch N: target-test X"),
which is read for reporting only.

usage: /usr/bin/python3 bench/dann_reference.py PAIR [--method dann|source-only] [--epochs 40]
                                               [--iters-per-epoch 70] [--threads 1] [--seed 1] [--norm]
--norm standardises each image (zero mean, unit variance over its pixels and channels), as dida's
input_norm does; without it the training images' mean pixel is subtracted.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def read_domain(folder):
    """Images and labels of each split of one exported domain: {split: (N x C x H x W float in [0, 1], labels)}."""
    if not os.path.isdir(folder):
        sys.exit(f'dann_reference: {folder} is not a folder (write the pair with: dida data export --out PAIR)')
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    images, labels = {}, {}
    for k, cls in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(folder, cls))):
            split = name.split('_', 1)[0]
            img = np.asarray(Image.open(os.path.join(folder, cls, name)).convert('RGB'), dtype=np.float32) / 255.0
            images.setdefault(split, []).append(img.transpose(2, 0, 1))
            labels.setdefault(split, []).append(k)
    if not images:
        sys.exit(f'dann_reference: no images under {folder}')
    return {s: (torch.from_numpy(np.stack(images[s])), torch.tensor(labels[s])) for s in images}, classes


class ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.weight * grad, None


class DigitNet(nn.Module):
    def __init__(self, channels, size, classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 48, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        n = 48 * ((size - 4) // 2 - 4) // 2 * ((size - 4) // 2 - 4) // 2
        self.label = nn.Sequential(nn.Linear(n, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, classes))
        self.domain = nn.Sequential(nn.Linear(n, 100), nn.ReLU(), nn.Linear(100, 2))

    def forward(self, x, reversal=0.0):
        f = self.features(x)
        return self.label(f), self.domain(ReverseGradient.apply(f, reversal))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('pair', help='folder written by `dida data export`')
    ap.add_argument('--method', choices=['dann', 'source-only'], default='dann')
    ap.add_argument('--epochs', type=int, default=40)
    ap.add_argument('--iters-per-epoch', type=int, default=70)
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--norm', action='store_true', help='per-image standardisation (as dida\'s input_norm)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    source, classes = read_domain(os.path.join(a.pair, 'source'))
    target, _ = read_domain(os.path.join(a.pair, 'target'))
    for name, d, split in (('source', source, 'train'), ('target', target, 'train'), ('target', target, 'test')):
        if split not in d:
            sys.exit(f'dann_reference: {a.pair}/{name} has no {split}_*.png images')
    xs, ys = source['train']
    xt = target['train'][0]
    xtest, ytest = target['test']
    if a.norm:
        prep = lambda x: (x - x.mean((1, 2, 3), keepdim=True)) / (x.std((1, 2, 3), keepdim=True) + 1e-5)
    else:
        mean = xs.mean((0, 2, 3), keepdim=True)
        prep = lambda x: x - mean
    xs, xt, xtest = prep(xs), prep(xt), prep(xtest)

    net = DigitNet(xs.shape[1], xs.shape[2], len(classes))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    total = a.epochs * a.iters_per_epoch
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    for epoch in range(a.epochs):
        net.train()
        for it in range(a.iters_per_epoch):
            p = (epoch * a.iters_per_epoch + it) / total
            for group in opt.param_groups:
                group['lr'] = 0.01 / (1 + 10 * p) ** 0.75
            i = torch.randint(0, len(xs), (a.batch_size,), generator=g)
            logits, dom_s = net(xs[i], 2 / (1 + math.exp(-10 * p)) - 1)
            loss = F.cross_entropy(logits, ys[i])
            if a.method == 'dann':
                j = torch.randint(0, len(xt), (a.batch_size,), generator=g)
                _, dom_t = net(xt[j], 2 / (1 + math.exp(-10 * p)) - 1)
                d = torch.cat([torch.zeros(a.batch_size), torch.ones(a.batch_size)]).long()
                loss = loss + F.cross_entropy(torch.cat([dom_s, dom_t]), d)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            right = sum((net(xtest[k:k + 500])[0].argmax(1) == ytest[k:k + 500]).sum().item() for k in range(0, len(xtest), 500))
        print(f'epoch {epoch + 1}: target-test {right / len(xtest):.4f} ({time.time() - t0:.0f} s)', flush=True)


if __name__ == '__main__':
    main()
