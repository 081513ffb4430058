"""im2col / col2im: turn convolution and pooling into one matrix product (DLFS layout).

``im2col`` lays every receptive field out as one row of a matrix, so a convolution becomes
``cols @ W.reshape(FN, -1).T``. The rows are gathered with a strided *view* of the padded
image (``sliding_window_view``), so the only copy is the final reshape into the matrix.
``col2im`` is its adjoint: it adds every row back onto the image positions it came from.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_output_size(size, filter_size, stride=1, pad=0):
    """Output length of a sliding window along one axis: (size + 2*pad - filter) // stride + 1."""
    return (size + 2 * pad - filter_size) // stride + 1


def im2col(x, filter_h, filter_w, stride=1, pad=0, pad_value=0.0):
    """Unfold images (N, C, H, W) into columns (N*OH*OW, C*FH*FW), one row per output pixel.

    Rows are ordered (n, oh, ow) and columns (c, fh, fw), as in the DLFS textbook.
    ``pad_value`` fills the border (0 for convolution, -inf for max pooling).
    """
    N, C, H, W = x.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    if pad:
        x = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=pad_value)
    # windows[n, c, oh, ow, fh, fw] = x[n, c, oh*stride + fh, ow*stride + fw]; a view, no copy.
    windows = sliding_window_view(x, (filter_h, filter_w), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * out_h * out_w, C * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold columns (N*OH*OW, C*FH*FW) back into images ``input_shape``, summing overlaps.

    The adjoint of :func:`im2col`: where windows overlap, their contributions add up, which
    is exactly what the backward pass of a convolution or pooling needs.
    """
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    # View the columns as (C, FH, FW, N, OH, OW): free when ``col`` is the transpose of a
    # C-contiguous (C*FH*FW, N*OH*OW) matrix (what Convolution.backward passes), one copy
    # otherwise. Either way each kernel offset below reads whole contiguous OH*OW blocks.
    cols = col.T.reshape(C, filter_h, filter_w, N, out_h, out_w)
    img = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    # Loop over kernel offsets only (FH*FW of them); each step adds a whole batch slice.
    for i in range(filter_h):
        for j in range(filter_w):
            img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += cols[:, i, j]
    return img[:, :, pad:pad + H, pad:pad + W].transpose(1, 0, 2, 3)


# ---------------------------------------------------------------- batch-innermost layout
# The same two kernels with the batch as the *last* axis: images (C, H, W, n), columns
# (C*FH*FW, OH*OW*n). Each kernel offset (i, j) then moves whole rows of OW*n contiguous
# numbers (a row of the image for every sample at once) instead of runs of OW, which is what
# makes the convolution as fast as a matrix product. Convolution uses these.

def im2col_batch_last(x, filter_h, filter_w, stride=1, pad=0):
    """Unfold images (C, H, W, n) into columns (C*FH*FW, OH*OW*n).

    cols[(c, i, j), (oh, ow, k)] = x_padded[c, oh*stride + i, ow*stride + j, k]: one strided
    copy per kernel offset (FH*FW of them), each a whole batch of shifted images.
    """
    C, H, W, n = x.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    if pad:
        x = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    cols = np.empty((C, filter_h, filter_w, out_h, out_w, n), dtype=x.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            cols[:, i, j] = x[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return cols.reshape(C * filter_h * filter_w, out_h * out_w * n)


def col2im_batch_last(cols, image_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold columns (C*FH*FW, OH*OW*n) back into images ``image_shape`` (C, H, W, n), summing
    overlaps: the adjoint of :func:`im2col_batch_last`, one strided add per kernel offset."""
    C, H, W, n = image_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    cols = cols.reshape(C, filter_h, filter_w, out_h, out_w, n)
    img = np.zeros((C, H + 2 * pad, W + 2 * pad, n), dtype=cols.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            img[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += cols[:, i, j]
    return img[:, pad:pad + H, pad:pad + W]
