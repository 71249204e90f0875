#!/usr/bin/python3
"""The dida training step in PyTorch-Python, for timing beside `dida train` (bench/train_vs_pytorch.sh).

Builds the network a bundle describes (its config.json and the tensor shapes in model.safetensors),
checks that its parameter count equals the bundle's, and times the joint training step of
docs/METHOD.md on random source and target batches: L_task, L_adv (gradient reversal), L_dom,
L_mi (MINE with its moving average), L_rec (features and pixels), L_rel, L_cons (strong view of the
target), L_bal, one Adam step. The loss weights, batch norm mode and augmentation come from the
bundle's training options. Prints one JSON line. Written to be a fair, idiomatic PyTorch program
(batched augmentation, no host reads inside the timed steps but the last total loss), not a port of the C++ code.
usage: /usr/bin/python3 bench/train_pytorch.py BUNDLE [--threads N] [--iters N] [--warmup N] [--device cpu|cuda]
                                                  [--precision fp32|bf16] [--batch-size N]
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_shapes(path):
    """Tensor name -> shape from a safetensors header."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: v['shape'] for k, v in header.items() if k != '__metadata__'}


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class Net(nn.Module):
    """The default branch variant (no progressive layers): E, I, S, C, D_inv, D_spe, T, R_feat, R_pix."""

    def __init__(self, m, shapes):
        super().__init__()
        if m['variant'] != 'branch' or m['progressive']:
            raise SystemExit('train_pytorch: only the branch variant without progressive layers is mirrored')
        self.m = m
        conv = lambda name: nn.Conv2d(shapes[name + '.weight'][1], shapes[name + '.weight'][0],
                                      shapes[name + '.weight'][2], padding=shapes[name + '.weight'][2] // 2)
        bn = lambda name: nn.BatchNorm2d(shapes[name + '.weight'][0])
        lin = lambda name: nn.Linear(shapes[name + '.weight'][1], shapes[name + '.weight'][0])
        self.convs = nn.ModuleDict()
        self.bns = nn.ModuleDict()
        self.lins = nn.ModuleDict()
        for name in ['encoder.conv1', 'encoder.conv2', 'encoder.conv3', 'inv.conv', 'spe.conv', 'feat_dec']:
            self.convs[name.replace('.', '_')] = conv(name)
        for name in ['encoder.bn1', 'encoder.bn2', 'encoder.bn3', 'inv.bn', 'spe.bn']:
            self.bns[name.replace('.', '_')] = bn(name)
        for head in ['classifier', 'dom_inv', 'dom_spe']:
            for fc in ['fc1', 'fc2']:
                self.lins[f'{head}_{fc}'] = lin(f'{head}.{fc}')
        for fc in ['fc1', 'fc2', 'fc3']:
            self.lins[f'mine_{fc}'] = lin(f'mine.{fc}')
        # R_pix: the convs named pix_dec.*, in order; a x2 up-sampling before those the description marks.
        self.dec_names = sorted({k.split('.')[1] for k in shapes if k.startswith('pix_dec.')},
                                key=lambda s: (int(''.join(c for c in s if c.isdigit())), s))
        self.dec = nn.ModuleList([conv('pix_dec.' + d) for d in self.dec_names])
        wide = m.get('decoder', 'small') == 'wide'
        self.dec_up = [d in ('conv2', 'conv3', 'conv4') if wide else d != 'conv1' for d in self.dec_names]

    def c(self, name, x):
        return self.convs[name](x)

    def cbr(self, conv, bn, x):
        return F.relu(self.bns[bn](self.convs[conv](x)))

    def encode(self, x):
        if self.m['input_norm'] == 'standardize':
            c = x - x.mean(dim=(1, 2, 3), keepdim=True)
            x = c / (c.pow(2).mean(dim=(1, 2, 3), keepdim=True) + 1e-5).sqrt()
        h = F.max_pool2d(self.cbr('encoder_conv1', 'encoder_bn1', x), 2)
        h = F.max_pool2d(self.cbr('encoder_conv2', 'encoder_bn2', h), 2)
        f = F.max_pool2d(self.cbr('encoder_conv3', 'encoder_bn3', h), 2)
        z_inv = self.cbr('inv_conv', 'inv_bn', f)
        z_spe = self.cbr('spe_conv', 'spe_bn', f)
        pool = (lambda z: z.flatten(1)) if self.m['pool'] == 'flatten' else (lambda z: z.mean(dim=(2, 3)))
        return dict(f=f, z_inv=z_inv, z_spe=z_spe, p_f=pool(f), p_inv=pool(z_inv), p_spe=pool(z_spe))

    def mlp(self, head, x):
        return self.lins[head + '_fc2'](F.relu(self.lins[head + '_fc1'](x)))

    def mine(self, a, b):
        t = F.elu(self.lins['mine_fc1'](torch.cat([a, b], 1)))
        t = F.elu(self.lins['mine_fc2'](t))
        return 10.0 * torch.tanh(self.lins['mine_fc3'](t).squeeze(1) / 10.0)

    def pix_dec(self, z_inv, z_spe):
        r = torch.cat([z_inv, z_spe], 1)
        for k, (conv, up) in enumerate(zip(self.dec, self.dec_up)):
            if up:
                r = F.interpolate(r, scale_factor=2.0, mode='nearest')
            r = conv(r)
            r = F.relu(r) if k + 1 < len(self.dec) else torch.tanh(r)
        return r


def strong_view(x, g, max_shift=2):
    """Random shift (replicate padding), channel order, inversion, contrast and brightness, per image, batched."""
    n, c, h, w = x.shape
    dev = x.device  # the draws come from the CPU generator, the work runs where x is
    p = F.pad(x, (max_shift,) * 4, mode='replicate')
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=g).to(dev)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=g).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])  # n x h
    cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])  # n x w
    idx = torch.arange(n, device=dev)[:, None, None, None]
    order = torch.argsort(torch.rand(n, c, generator=g), dim=1).to(dev)
    img = p[idx, order[:, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(dev)
    contrast = (0.6 + 0.8 * torch.rand(n, generator=g)).to(dev)
    bright = (-0.2 + 0.4 * torch.rand(n, generator=g)).to(dev)
    return (img * (sign * contrast)[:, None, None, None] + bright[:, None, None, None]).clamp(-1.0, 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('bundle')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--iters', type=int, default=60)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--device', default='cpu', help='cpu | cuda')
    ap.add_argument('--precision', default='fp32', choices=['fp32', 'bf16'], help='bf16: torch.autocast to bfloat16')
    ap.add_argument('--batch-size', type=int, default=0, help="images per domain (0: the bundle's)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    card = json.load(open(os.path.join(a.bundle, 'config.json')))
    m, o = card['model'], card['training']['options']
    if o['method'] != 'dida' or o['optimisation'] != 'joint':
        sys.exit('train_pytorch: mirrors dida with --optimisation joint only')
    shapes = read_shapes(os.path.join(a.bundle, 'model.safetensors'))
    net = Net(m, shapes).to(dev)
    # Parameters as the bundle counts them: every tensor but batch norm's running statistics.
    bundle_params = sum(math.prod(s) for k, s in shapes.items() if not k.endswith(('running_mean', 'running_var')))
    ours = sum(p.numel() for p in net.parameters())
    if ours != bundle_params:
        sys.exit(f'train_pytorch: {ours} parameters here, {bundle_params} in the bundle: the mirror is out of date')
    opt = torch.optim.Adam(net.parameters(), lr=o['lr'], weight_decay=o['weight_decay'])
    bs, c, s = a.batch_size or o['batch_size'], m['in_channels'], m['image_size']
    g = torch.Generator().manual_seed(1)
    pool = max(1024, bs)  # training images resident on the device, as dida keeps them
    xs_all = (torch.rand(pool, c, s, s, generator=g) * 2 - 1).to(dev)
    xt_all = (torch.rand(pool, c, s, s, generator=g) * 2 - 1).to(dev)
    ys_all = torch.randint(0, m['num_classes'], (pool,), generator=g).to(dev)
    d = torch.cat([torch.zeros(bs, dtype=torch.long), torch.ones(bs, dtype=torch.long)]).to(dev)
    ma = [None]

    def step(it, progress):
        i = torch.randint(0, pool, (bs,), generator=g).to(dev)
        j = torch.randint(0, pool, (bs,), generator=g).to(dev)
        xs, ys, xt = xs_all[i], ys_all[i], xt_all[j]
        if o['augment_source']:
            xs = strong_view(xs, g)
        grl = 2.0 / (1.0 + math.exp(-o['grl_gamma'] * progress)) - 1.0
        for group in opt.param_groups:
            group['lr'] = o['lr'] / (1 + 10 * progress) ** 0.75 if o['anneal_lr'] else o['lr']
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == 'bf16'):
            total = losses(xs, ys, xt, grl)
        opt.zero_grad()
        total.backward()
        opt.step()
        return total

    def losses(xs, ys, xt, grl):
        x = torch.cat([xs, xt])
        if o['batch_norm'] == 'separate':
            es, et = net.encode(xs), net.encode(xt)
            out = {k: torch.cat([es[k], et[k]]) for k in es}
        else:
            out = net.encode(x)
        logits = net.mlp('classifier', out['p_inv'])
        total = F.cross_entropy(logits[:bs], ys)
        total = total + o['lambda_adv'] * F.cross_entropy(net.mlp('dom_inv', GradReverse.apply(out['p_inv'], grl)), d)
        total = total + o['lambda_dom'] * F.cross_entropy(net.mlp('dom_spe', out['p_spe']), d)
        # L_mi: MINE's bound through gradient reversal on both inputs, with the moving-average correction.
        pa, pb = GradReverse.apply(out['p_inv'], 1.0), GradReverse.apply(out['p_spe'], 1.0)
        joint = net.mine(pa, pb)
        marginal = net.mine(pa, pb[torch.randperm(2 * bs, generator=g).to(dev)])
        mean_exp = marginal.exp().mean()
        ma[0] = mean_exp.detach() if ma[0] is None else (1 - o['mine_ma_rate']) * ma[0] + o['mine_ma_rate'] * mean_exp.detach()
        lse = torch.logsumexp(marginal, 0) - math.log(2 * bs)
        corrected = mean_exp / ma[0]
        total = total - o['lambda_mi'] * (joint.mean() - corrected + (corrected.detach() - lse.detach()))
        # L_rec: features and pixels.
        rec = (net.c('feat_dec', torch.cat([out['z_inv'], out['z_spe']], 1)) - out['f'].detach()).pow(2).mean()
        rec = rec + o['pixel_rec_weight'] * (net.pix_dec(out['z_inv'], out['z_spe']) - x).pow(2).mean()
        total = total + o['lambda_rec'] * rec

        def rel(pi, pf):
            a_, b_ = F.normalize(pi, dim=1), F.normalize(pf.detach(), dim=1)
            return (torch.softmax(a_ @ a_.t(), 1) - torch.softmax(b_ @ b_.t(), 1)).abs().mean()
        total = total + o['lambda_rel'] * 0.5 * (rel(out['p_inv'][:bs], out['p_f'][:bs]) + rel(out['p_inv'][bs:], out['p_f'][bs:]))
        # L_cons: confident pseudo-labels of the clean target view on a strong view.
        strong = net.mlp('classifier', net.encode(strong_view(xt, g))['p_inv'])
        best, label = torch.softmax(logits[bs:].detach(), 1).max(1)
        cons = (F.cross_entropy(strong, label, reduction='none') * (best > o['cons_threshold']).float()).mean()
        total = total + o['lambda_cons'] * grl * cons
        p = torch.softmax(logits[bs:], 1).mean(0)
        total = total + o['lambda_bal'] * (math.log(logits.shape[1]) + (p * torch.log(p.clamp_min(1e-12))).sum())
        return total

    net.train()
    for it in range(a.warmup):
        step(it, it / (a.warmup + a.iters))
    t0 = time.perf_counter()
    for it in range(a.iters):
        last = step(it, (a.warmup + it) / (a.warmup + a.iters))
    loss = float(last)  # the one host read: the last total, after the timed steps' work is queued
    seconds = time.perf_counter() - t0
    print(json.dumps({'engine': 'pytorch-python', 'torch': torch.__version__, 'threads': a.threads, 'batch': bs,
                      'device': str(dev), 'precision': a.precision,
                      'iters': a.iters, 'parameters': ours, 'images_per_s': a.iters * 2 * bs / seconds,
                      'seconds': seconds, 'last_loss': loss}))


if __name__ == '__main__':
    main()
