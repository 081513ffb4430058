"""The reference layers, in the "Deep Learning from Scratch" (DLFS) conventions.

Every layer has ``forward(x) -> out`` and ``backward(dout) -> dx``; layers with parameters
keep references to their ``W`` and ``b`` arrays (so in-place updates are seen) and leave
the gradients on ``dW`` and ``db``. All arrays are float64, images are NCHW. Layers never
modify the arrays they are given.
"""

import numpy as np

from reference.im2col import col2im_batch_last, conv_output_size, im2col_batch_last

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
    instead of keeping them. Inside, the batch is the last axis (images (C, H, W, n), see
    ``im2col_batch_last``): the unfolding then copies long contiguous rows, and no GEMM operand
    needs a transposed copy.
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

    def _columns(self, x, part):
        """The im2col matrix (C*FH*FW, OH*OW*n) of the samples ``part``, and their image shape."""
        _, _, FH, FW = self.W.shape
        images = np.ascontiguousarray(x[part].transpose(1, 2, 3, 0))   # (C, H, W, n)
        return im2col_batch_last(images, FH, FW, self.stride, self.pad), images.shape

    def forward(self, x):
        FN = self.W.shape[0]
        out_h, out_w = self._out_size(x)
        self.x = x
        W_row = self.W.reshape(FN, -1)                                   # (FN, C*FH*FW)
        out = np.empty((FN, out_h, out_w, x.shape[0]))                  # batch last, like the columns
        for part in self._chunks(x):
            col, _ = self._columns(x, part)                              # (C*FH*FW, OH*OW*n)
            if W_row.shape[1] < 64:  # a first layer's few weights per filter: one pass over the columns
                rows = W_row @ col
            else:  # (OH*OW*n, C*FH*FW) @ (C*FH*FW, FN): OpenBLAS is faster with the long axis as rows
                rows = (col.T @ W_row.T).T
            out[..., part] = rows.reshape(FN, out_h, out_w, -1)
        out += self.b.reshape(FN, 1, 1, 1)
        return out.transpose(3, 0, 1, 2)                                 # (N, FN, OH, OW), a view

    def backward(self, dout):
        FN, _, FH, FW = self.W.shape
        x = self.x
        W_row = self.W.reshape(FN, -1)                                   # (FN, C*FH*FW)
        dW_col = np.zeros(W_row.shape[::-1])                             # (C*FH*FW, FN)
        dx = np.empty(x.shape[1:] + x.shape[:1])                         # (C, H, W, N)
        dout_last = dout.transpose(1, 2, 3, 0)                           # (FN, OH, OW, N), a view
        for part in self._chunks(x):
            col, shape = self._columns(x, part)                          # (C*FH*FW, OH*OW*n)
            dout_row = np.ascontiguousarray(dout_last[..., part]).reshape(FN, -1)  # (FN, OH*OW*n)
            dW_col += col @ dout_row.T                                   # long axis as rows, as above
            dcol = W_row.T @ dout_row                                    # (C*FH*FW, OH*OW*n)
            dx[..., part] = col2im_batch_last(dcol, shape, FH, FW, self.stride, self.pad)
        self.dW = dW_col.T.reshape(self.W.shape)
        self.db = dout.sum(axis=(0, 2, 3))
        return dx.transpose(3, 0, 1, 2)                                  # (N, C, H, W), a view


class Pooling:
    """Max pooling over pool_h x pool_w windows; the gradient goes to each window's maximum.

    Padding uses -inf (as torch.nn.MaxPool2d does), so a padded border never wins the max;
    the output size counts the padding: (H + 2*pad - pool_h) // stride + 1. With ties the
    first maximum in row-major window order receives the gradient (as in torch). Like im2col,
    both passes loop over the pool_h * pool_w window offsets, each a strided view of the whole
    batch, and use only whole-array operations (a masked copy is 5x slower than arithmetic).
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x_shape = None
        self.arg_max = None

    def _windows(self, x):
        """(k, index): ``x_padded[index]`` is element k (row-major) of every window, (N, C, OH, OW)."""
        s = self.stride
        out_h = conv_output_size(x.shape[2], self.pool_h, s, 0)
        out_w = conv_output_size(x.shape[3], self.pool_w, s, 0)
        for i in range(self.pool_h):
            for j in range(self.pool_w):
                yield i * self.pool_w + j, (slice(None), slice(None), slice(i, i + s * out_h, s),
                                            slice(j, j + s * out_w, s))

    def forward(self, x):
        p = self.pad
        if p:
            x = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=-np.inf)
        self.x_shape = x.shape                                           # padded
        windows = [x[where] for _, where in self._windows(x)]            # views, each (N, C, OH, OW)
        out = windows[0].copy()
        for window in windows[1:]:
            np.maximum(out, window, out=out)
        # arg_max = the first k whose element is the maximum = how many leading offsets are not it
        not_yet = windows[0] != out
        self.arg_max = not_yet.astype(np.uint8 if len(windows) < 256 else np.intp)
        for window in windows[1:-1]:
            not_yet &= window != out
            self.arg_max += not_yet
        return out

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        overlap = self.stride < self.pool_h or self.stride < self.pool_w
        chosen = np.empty(dout.shape, dtype=bool)
        for k, where in self._windows(dx):
            np.equal(self.arg_max, k, out=chosen)
            if overlap:   # windows share pixels: their gradients add up
                dx[where] += dout * chosen
            else:         # each pixel is in one window at most: write it directly
                np.multiply(dout, chosen, out=dx[where])
        p = self.pad
        return dx[:, :, p:dx.shape[2] - p, p:dx.shape[3] - p]


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
