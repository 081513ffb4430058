"""The reference layers, in the "Deep Learning from Scratch" (DLFS) conventions.

Every layer has ``forward(x) -> out`` and ``backward(dout) -> dx``; layers with parameters
keep references to their ``W`` and ``b`` arrays (so in-place updates are seen) and leave
the gradients on ``dW`` and ``db``. All arrays are float64, images are NCHW. Layers never
modify the arrays they are given.
"""

import numpy as np

from reference.im2col import col2im, conv_output_size, im2col

# Largest im2col buffer the convolution builds at once: bigger batches are processed in
# chunks of samples, so the grader fits in its memory limit (a full PA2 batch would need
# ~360 MB for one buffer). Backward holds two (columns and their gradient): 32 MB in all.
COL_BUFFER_BYTES = 16 * 2**20


class Affine:
    """Fully connected layer: out = x @ W + b, with W shaped (in, out).

    Inputs that are not 2-D (e.g. feature maps) are flattened per sample in (C, H, W) order;
    ``backward`` returns dx in the original shape.
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.x_shape)


class Relu:
    """Rectified linear unit: out = max(x, 0); the gradient passes where x > 0."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class LeakyRelu:
    """Leaky ReLU: out = x where x > 0, alpha * x elsewhere (torch.nn.LeakyReLU)."""

    def __init__(self, alpha=0.01):
        self.alpha = alpha
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, self.alpha * x, x)

    def backward(self, dout):
        return np.where(self.mask, self.alpha * dout, dout)


class Flatten:
    """Reshape (N, C, H, W) to (N, C*H*W) in (C, H, W) order; backward restores the shape."""

    def __init__(self):
        self.x_shape = None

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.x_shape)


class Convolution:
    """2-D convolution (cross-correlation, no kernel flip) with W shaped (FN, C, FH, FW).

    out[n, f] = sum over c, i, j of W[f, c, i, j] * x_padded[n, c, oh*stride + i, ow*stride + j]
    + b[f]. Computed as im2col followed by one matrix product, a few samples at a time so that
    the column buffer stays below ``COL_BUFFER_BYTES``; backward rebuilds the columns per chunk
    instead of keeping them.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.dW = None
        self.db = None

    def _out_size(self, x):
        _, _, FH, FW = self.W.shape
        return (conv_output_size(x.shape[2], FH, self.stride, self.pad),
                conv_output_size(x.shape[3], FW, self.stride, self.pad))

    def _chunks(self, x):
        """Slices over the batch whose im2col buffers each fit in ``COL_BUFFER_BYTES``."""
        out_h, out_w = self._out_size(x)
        bytes_per_sample = out_h * out_w * self.W[0].size * x.itemsize
        step = max(1, COL_BUFFER_BYTES // max(bytes_per_sample, 1))
        return [slice(start, start + step) for start in range(0, x.shape[0], step)]

    def forward(self, x):
        FN, _, FH, FW = self.W.shape
        out_h, out_w = self._out_size(x)
        self.x = x
        W_col = self.W.reshape(FN, -1).T                       # (C*FH*FW, FN)
        out = np.empty((x.shape[0], out_h, out_w, FN))
        for part in self._chunks(x):
            col = im2col(x[part], FH, FW, self.stride, self.pad)  # (n*OH*OW, C*FH*FW)
            out[part] = (col @ W_col).reshape(-1, out_h, out_w, FN)
        out += self.b
        return out.transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, _, FH, FW = self.W.shape
        x = self.x
        W_row = self.W.reshape(FN, -1)                         # (FN, C*FH*FW)
        dW = np.zeros_like(W_row)
        dx = np.empty(x.shape)
        for part in self._chunks(x):
            col = im2col(x[part], FH, FW, self.stride, self.pad)    # (n*OH*OW, C*FH*FW)
            dout_row = dout[part].transpose(1, 0, 2, 3).reshape(FN, -1)  # (FN, n*OH*OW)
            dW += dout_row @ col
            # The column gradient dout (one row per output pixel) @ W_row, computed transposed
            # so that col2im reads it contiguously.
            dcol = (W_row.T @ dout_row).T                          # (n*OH*OW, C*FH*FW)
            dx[part] = col2im(dcol, x[part].shape, FH, FW, self.stride, self.pad)
        self.dW = dW.reshape(self.W.shape)
        self.db = dout.sum(axis=(0, 2, 3))
        return dx


class Pooling:
    """Max pooling over pool_h x pool_w windows; the gradient goes to each window's maximum.

    Padding uses -inf (as torch.nn.MaxPool2d does), so a padded border never wins the max;
    the output size counts the padding: (H + 2*pad - pool_h) // stride + 1. With ties the
    first maximum in row-major window order receives the gradient.
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x_shape = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = conv_output_size(H, self.pool_h, self.stride, self.pad)
        out_w = conv_output_size(W, self.pool_w, self.stride, self.pad)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, pad_value=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)       # one row per (n, oh, ow, c) window
        self.x_shape = x.shape
        self.arg_max = col.argmax(axis=1)
        out = col[np.arange(len(col)), self.arg_max]
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((self.arg_max.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max] = dout.transpose(0, 2, 3, 1).ravel()
        dcol = dmax.reshape(-1, self.x_shape[1] * pool_size)  # (N*OH*OW, C*PH*PW)
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy, averaged over the batch.

    Uses log-softmax with the row maximum subtracted, so large logits neither overflow nor
    produce log(0). Labels ``t`` are class indices (N,) or one-hot / probability rows (N, K).
    """

    def __init__(self):
        self.y = None   # softmax probabilities
        self.t = None   # targets as rows of probabilities (one-hot for class indices)
        self.loss = None

    def forward(self, x, t):
        shifted = x - x.max(axis=1, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        t = np.asarray(t)
        if t.ndim == 1:
            t = np.eye(x.shape[1])[t]
        self.y = np.exp(log_y)
        self.t = t
        self.loss = -(t * log_y).sum() / x.shape[0]
        return self.loss

    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.y.shape[0]
