"""RotKron / RotVec: rotation chains and their Kronecker products, hand-differentiated.

Forward is checked against explicit matrices (numpy Kronecker products of the textbook
RX/RY/RZ), backward against finite differences (``torch.autograd.gradcheck``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum._rotchain import RotKron, RotVec, kron_index, real_generators

_Q = {  # R(theta) = cos(theta/2) I + sin(theta/2) Q
    "rx": np.array([[0, -1j], [-1j, 0]]),
    "ry": np.array([[0, -1], [1, 0]]),
    "rz": np.array([[-1j, 0], [0, 1j]]),
}


def _textbook(name: str, theta: float) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return {
        "rx": np.array([[c, -1j * s], [-1j * s, c]]),
        "ry": np.array([[c, -s], [s, c]]),
        "rz": np.array([[np.exp(-1j * theta / 2), 0], [0, np.exp(1j * theta / 2)]]),
    }[name]


def _inputs(
    names: list[list[str]], batch: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """names[p][r]: gate at depth p on row r; returns half-angles, Q and I."""
    gen = torch.Generator().manual_seed(seed)
    depth, rows = len(names), len(names[0])
    a = torch.randn(depth, rows, batch, dtype=torch.float64, generator=gen)
    q = torch.as_tensor(np.stack([[_Q[n] for n in line] for line in names]))[..., None]
    eye = torch.eye(2, dtype=torch.complex128)[..., None]
    return a, q.to(torch.complex128), eye


def _real(q: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(real_generators(q[..., 0].numpy()))


def _names(depth: int, rows: int, seed: int, only: str | None = None) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[only or str(rng.choice(list(_Q))) for _ in range(rows)] for _ in range(depth)]


@pytest.mark.parametrize(
    ("depth", "rows", "k", "batch"), [(1, 2, 2, 1), (3, 6, 3, 1), (2, 4, 2, 5)]
)
def test_matrices_equal_explicit_kronecker_products(
    depth: int, rows: int, k: int, batch: int
) -> None:
    names = _names(depth, rows, seed=depth + rows)
    a, q, eye = _inputs(names, batch, seed=1)
    got = RotKron.apply(a, q, eye, torch.as_tensor(kron_index(rows, k, False)))
    got = got.view(rows // k, 2**k, 2**k, batch)
    for b in range(batch):
        for g in range(rows // k):
            factors = []
            for r in range(g * k, (g + 1) * k):
                m = np.eye(2)
                for p in range(depth):
                    m = _textbook(names[p][r], 2 * float(a[p, r, b])) @ m
                factors.append(m)
            want: np.ndarray = factors[0]
            for f in factors[1:]:
                want = np.kron(want, f)
            np.testing.assert_allclose(got[g, :, :, b].numpy(), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("depth", "rows", "k", "batch"), [(3, 5, 3, 4), (2, 4, 4, 1), (1, 1, 1, 2)]
)
def test_vectors_are_the_product_state_halves(depth: int, rows: int, k: int, batch: int) -> None:
    names = _names(depth, rows, seed=7 * rows)
    a, q, _ = _inputs(names, batch, seed=2)
    got = RotVec.apply(a, _real(q), torch.as_tensor(kron_index(rows, k, True)))
    for b in range(batch):
        cols = []
        for r in range(rows):
            m = np.eye(2)
            for p in range(depth):
                m = _textbook(names[p][r], 2 * float(a[p, r, b])) @ m
            cols.append(m[:, 0])
        top: np.ndarray = cols[0]
        for c in cols[1:k]:
            top = np.kron(top, c)
        bottom: np.ndarray = np.ones(1)
        for c in cols[k:]:
            bottom = np.kron(bottom, c)
        np.testing.assert_allclose(got[: 2**k, b].numpy(), top, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got[2**k :, b].numpy(), bottom, rtol=0, atol=1e-12)


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize(
    ("depth", "rows", "k", "batch", "only"),
    [
        (3, 6, 3, 1, None),
        (2, 4, 2, 3, None),
        (2, 5, 3, 2, None),
        (2, 4, 2, 2, "rz"),
        (1, 3, 3, 1, None),
    ],
)
def test_gradients_match_finite_differences(
    vector: bool, depth: int, rows: int, k: int, batch: int, only: str | None
) -> None:
    if not vector:
        rows -= rows % k  # matrices come in whole runs of k rows
    # RZ-only chains have exact zeros off the diagonal: the factor gradients must not
    # divide by them
    names = _names(depth, rows, seed=rows * 3 + depth, only=only)
    a, q, eye = _inputs(names, batch, seed=3)
    a.requires_grad_(True)
    index = torch.as_tensor(kron_index(rows, k, vector))
    if vector:
        qr = _real(q)
        f = lambda t: torch.view_as_real(RotVec.apply(t, qr, index))  # noqa: E731
    else:
        f = lambda t: torch.view_as_real(RotKron.apply(t, q, eye, index))  # noqa: E731
    assert torch.autograd.gradcheck(f, (a,))


def test_kron_index_points_the_short_half_at_the_constant_one() -> None:
    idx = kron_index(3, 2, True)  # halves of 2 and 1 rows
    assert idx.shape == (2, 4 + 2)
    assert (idx[1, 4:] == 3 * 2).all()  # the one-row half has one real factor


def _torch_rows(a: torch.Tensor, names: list[list[str]]) -> list[torch.Tensor]:
    """Each row's chain ``R_{P-1} .. R_0`` ``[B, 2, 2]``, built with recorded torch ops
    from the textbook ``cos(a) I + sin(a) Q`` (autograd differentiates it, not us)."""
    depth, rows, batch = a.shape
    eye = torch.eye(2, dtype=torch.complex128)
    out = []
    for r in range(rows):
        m = eye.expand(batch, 2, 2)
        for p in range(depth):
            q = torch.as_tensor(_Q[names[p][r]], dtype=torch.complex128)
            t = a[p, r][:, None, None]
            m = (torch.cos(t) * eye + torch.sin(t) * q) @ m
        out.append(m)
    return out


def _torch_kron(mats: list[torch.Tensor]) -> torch.Tensor:
    out = mats[0]
    for m in mats[1:]:
        out = torch.stack([torch.kron(x, y) for x, y in zip(out, m, strict=True)])
    return out


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize(
    ("depth", "rows", "k", "batch"), [(3, 4, 2, 3), (2, 3, 3, 2), (1, 2, 1, 1)]
)
def test_gradients_equal_autograd_of_the_textbook_chain_to_1e_12(
    vector: bool, depth: int, rows: int, k: int, batch: int
) -> None:
    """In float64 the hand-written backward is exact: the gradient of a random linear
    loss of the outputs equals torch's autograd through the explicit construction to
    ``1e-12`` (``gradcheck``'s finite differences only see about ``1e-6``, so a gradient
    computed in float32 would pass there and fail here). Every output entry gets its
    own complex weight, so a gradient sent to the wrong factor shows."""
    names = _names(depth, rows, seed=depth * 5 + rows)
    a, q, eye = _inputs(names, batch, seed=9)
    index = torch.as_tensor(kron_index(rows, k, vector))
    a1 = a.clone().requires_grad_(True)
    got = RotVec.apply(a1, _real(q), index) if vector else RotKron.apply(a1, q, eye, index)
    a2 = a.clone().requires_grad_(True)
    mats = _torch_rows(a2, names)
    if vector:
        cols = [m[:, :, 0] for m in mats]
        halves = [_torch_kron(cols[:k]), _torch_kron(cols[k:]) if rows > k else None]
        want = torch.cat([h for h in halves if h is not None], 1)
        if rows == k:  # the empty half is the constant 1
            want = torch.cat([want, torch.ones(batch, 1, dtype=want.dtype)], 1)
    else:
        want = torch.cat(
            [_torch_kron(mats[g * k : (g + 1) * k]).reshape(batch, -1) for g in range(rows // k)],
            1,
        )
    want = want.T  # [S, B]
    torch.testing.assert_close(got.detach(), want.detach(), rtol=0, atol=1e-12)
    gen = torch.Generator().manual_seed(4)
    weights = torch.randn(*want.shape, 2, dtype=torch.float64, generator=gen)
    cw = torch.view_as_complex(weights)
    (got * cw).real.sum().backward()
    (want * cw).real.sum().backward()
    assert a1.grad is not None and a2.grad is not None
    assert a1.grad.dtype == torch.float64
    torch.testing.assert_close(a1.grad, a2.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_real_generators_act_like_the_complex_matrix(shape: tuple[int, ...]) -> None:
    """``[..., 2, 2]`` complex -> ``[..., 4, 4]`` real: applied to ``(re0, im0, re1, im1)``
    of any vector it gives the real and imaginary parts of the complex product."""
    rng = np.random.default_rng(len(shape))
    q = rng.normal(size=(*shape, 2, 2)) + 1j * rng.normal(size=(*shape, 2, 2))
    v = rng.normal(size=(*shape, 2)) + 1j * rng.normal(size=(*shape, 2))
    r = real_generators(q)
    assert r.shape == (*shape, 4, 4)
    want = np.einsum("...ij,...j->...i", q, v)
    flat = np.stack([v[..., 0].real, v[..., 0].imag, v[..., 1].real, v[..., 1].imag], -1)
    got = np.einsum("...ij,...j->...i", r, flat)
    np.testing.assert_allclose(got[..., 0::2] + 1j * got[..., 1::2], want, atol=1e-12)
