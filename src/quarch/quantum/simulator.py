"""Batched, differentiable state-vector simulator on torch tensors.

A search trains thousands of small circuits, so the simulator compiles each circuit
once into an :class:`ExecutionPlan` and reuses it for every batch. The engine behind
it is built around two costs: at n <= 10 the number of torch operations per
forward+backward, at n >= 14 the number of passes over the state. It runs in stages,
one private module each:

========================  ==========================================================
``_compile``              circuit -> steps, blocks, chains, angle sources (once)
``_layout``, ``_fuse``    block scheduling and deferred permutations; block fusion
``_plan``                 the records the compiler writes and the run time reads
``_matrices``             per call: angles -> block matrices, product state
``_apply``                block matmuls and gathers on the state (forward)
``_adjoint``              the evolution as one autograd node, adjoint backward
``_measure``              ``<Z-words>`` as sign tables in the stored layout
``_simulate``             one call: the stages above, in order
========================  ==========================================================

* ops at the start of each wire (embedding, first rotation layer) become a product
  state, built as a Kronecker tree of per-wire vectors;
* the remaining ops are grouped (commuting past each other where their wires are
  disjoint) into blocks of at most ``max_block_qubits`` wires; each block is one
  ``2^k x 2^k`` unitary (consecutive one-qubit gates multiplied first, the one-qubit
  layers of all blocks built together, constant gates folded at compile time),
  applied as one matmul; shared-weight blocks are one matrix for the whole batch,
  blocks that read inputs are ``[batch, 2^k, 2^k]``;
* permutation gates (CNOT, SWAP, X, Toffoli) that do not fit a block cost nothing at
  run time: the plan tracks which basis index each stored amplitude holds, and folds
  that map into the next block, into one gather, or into the ``<Z>`` sign table;
* the evolution is one autograd node differentiated by the adjoint method, so memory
  stays at a few states whatever the depth.

Two engines run a plan. The block engine above pays off on wide states and large
batches: few passes over the state. Below about ten qubits a call of it costs its
fixed overhead (about a hundred small torch operations and several autograd nodes),
not its arithmetic, so small circuits also compile to a second program:

========================  ==========================================================
``_small_plan``           circuit -> a few whole-register instructions (once)
``_small_run``            one autograd node, hand-written backward, few torch calls
``_small_cost``           which engine a call runs: a cost model measured on both
========================  ==========================================================

``path="auto"`` (the default) picks per plan and batch size by that model (it is
decided once per batch size and cached); ``"small"`` and ``"engine"`` force one. Both
engines give the same values and gradients (to rounding); the small path keeps one
state per instruction for its backward instead of the adjoint method's few, which is
why it stops at ten qubits.

The batch axis is always first: states are ``[batch, 2**n]`` with wire 0 the most
significant bit. Gradients with respect to weights, inputs and ``initial_state`` are
available; second derivatives are not (a backward that records a graph is refused,
``_second_order``), nor ``torch.func`` transforms (``grad``,
``vmap``, ``jacrev``: refused in one line, :data:`TRANSFORMS_REFUSAL`, which names the
autograd ways that work).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from quarch._eager import untraced
from quarch._errors import SimulationError
from quarch.quantum._arguments import (
    TRACE_REFUSAL,
    TRANSFORMS_REFUSAL,
    _real,
    _validate_dtype,
)
from quarch.quantum._compile import Engine
from quarch.quantum._matrices import Runtime
from quarch.quantum._measure import sign_table
from quarch.quantum._plan_arguments import _PlanArguments, no_rows
from quarch.quantum._simulate import execute
from quarch.quantum._small_cost import (
    FOLD_ROWS,
    SINGLE_STATE,
    SMALL_MAX_QUBITS,
    WHOLE_REGISTER,
    PlanFeatures,
    small_is_faster,
)
from quarch.quantum._small_plan import SmallProgram
from quarch.quantum._small_run import SmallCircuit, SmallRuntime
from quarch.quantum.circuit import Circuit, CircuitError, Param, require_circuit
from quarch.quantum.measurements import (
    ObservableLike,
    PauliWord,
    _word_tables,
    expval_in_layout,
    parse_observables,
)

__all__ = [
    "PATHS",
    "TRACE_REFUSAL",
    "TRANSFORMS_REFUSAL",
    "ExecutionPlan",
    "SimulationError",
    "compile_circuit",
    "statevector",
]

PATHS = ("auto", "small", "engine")
"""How a plan runs: ``"small"`` (:mod:`._small_run`: one autograd node, few torch
calls; up to :data:`SMALL_MAX_QUBITS` qubits), ``"engine"`` (the block engine above:
few passes over large states) or ``"auto"`` (per call, whichever the cost model of
:mod:`._small_cost` expects to be faster for the call's batch)."""


class _NoContext:
    """Stands in for an autograd context where no gradient is recorded."""

    __slots__ = ("call", "dense", "psi0_real", "psi0_rows", "replay", "rt", "signs", "var", "x")


def _forward_only(*args: Any) -> torch.Tensor:
    """:class:`SmallCircuit`'s forward without its autograd node, for calls under
    ``torch.no_grad()`` (a training loop's validation after every step): ``apply``
    costs its bookkeeping even when nothing is recorded."""
    return SmallCircuit.forward(_NoContext(), *args)


_NODE_APPLY = super(torch.autograd.Function, SmallCircuit).apply
"""``torch.autograd.Function.apply`` without its Python preamble, which costs 8-20 us a
call on the small path (about 3-5 % of a forward+backward at n = 2, batch 256, measured
in alternating rounds): a check for ``setup_context`` (the node has none) and for
``torch.func`` transforms (``ExecutionPlan._execute`` refuses those before any path
runs), and a pytree walk over the arguments that unwraps tensors left over from a
finished ``torch.func`` transform (the node's inputs are a layer's own weights and a
caller's batch)."""


class ExecutionPlan(_PlanArguments):
    """A circuit compiled for repeated batched execution.

    Build it with :func:`compile_circuit`. The plan holds no tensors of its own beyond
    small per-device caches, so one plan serves CPU and CUDA inputs alike: it runs on
    the device of each call's inputs, and :meth:`to` a device returns the plan itself.

    Arguments may carry leading dimensions, ``[*, k]``, as for ``torch.nn.Linear``:
    the leading shapes of inputs, per-sample weights and start states broadcast as
    torch broadcasts them (a ``[1, n_weights]`` row serves every input row), and the
    result has the broadcast shape in front of its last axis.

    Under ``torch.compile`` a call runs eagerly, outside the graph (the engine picks its
    path from values at run time): the graph breaks there, so ``fullgraph=True`` fails
    with torch's "Skip calling ``torch.compiler.disable()``'d function" (or "marked as
    skipped" at a first call); compile without it. ``torch.jit.trace``, ``torch.func``
    transforms and complex inputs or weights are refused in one line.

    Args:
        circuit (Circuit): the circuit (copied; later edits do not affect the plan).
        dtype (torch.dtype): ``torch.complex64`` (default, faster) or ``complex128``.
        max_block_qubits (int | None): widest fused block of the block engine; default
            4 (2^4 x 2^4 matrices balance fewer passes over the state against matrix
            cost). Giving it selects the block engine unless ``path`` says otherwise.
        path (str): one of :data:`PATHS`; default ``"auto"``.
    """

    def __init__(
        self,
        circuit: Circuit,
        *,
        dtype: torch.dtype = torch.complex64,
        max_block_qubits: int | None = None,
        path: str = "auto",
    ) -> None:
        if not isinstance(circuit, Circuit):  # QuantumLayer(...) and compile_circuit come here
            held = isinstance(getattr(circuit, "circuit", None), Circuit)
            hint = "; for a QuantumLayer pass layer.circuit" if held else ""
            raise CircuitError(
                f"circuit must be a quarch Circuit; got {type(circuit).__name__}{hint}"
            )
        self.dtype = _validate_dtype(dtype)
        k = 4 if max_block_qubits is None else max_block_qubits
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 8:
            raise CircuitError(f"max_block_qubits must be an integer in [1, 8]; got {k!r}")
        if circuit.has_channels:
            raise SimulationError(
                "this circuit contains noise channels; simulate it with "
                "quarch.quantum.noise.density_matrix instead of the state-vector path"
            )
        if path not in PATHS:
            raise SimulationError(f"path must be one of {', '.join(PATHS)}; got {path!r}")
        if path == "small" and circuit.n_qubits > SMALL_MAX_QUBITS:
            raise SimulationError(
                f"path='small' runs circuits of at most {SMALL_MAX_QUBITS} qubits; "
                f"this one has {circuit.n_qubits}"
            )
        if path == "auto" and (max_block_qubits is not None or circuit.n_qubits > SMALL_MAX_QUBITS):
            path = "engine"
        self.path = path
        self._circuit = circuit.copy()
        self.n_qubits = circuit.n_qubits
        self.n_weights = circuit.n_weights
        self.n_inputs = circuit.n_inputs
        self.max_block_qubits = max(
            min(k, self.n_qubits),
            max(
                (len(op.wires) for op in circuit.ops if op.name != "amplitude_embedding"), default=1
            ),
        )
        self._amplitude: tuple[int, float, bool] | None = next(
            (
                (op.meta[0], op.meta[1], op.meta[2])
                for op in circuit.ops
                if op.name == "amplitude_embedding"
            ),
            None,
        )
        self._runtimes: dict[tuple[bool, bool], Runtime] = {}
        self._small: dict[tuple[bool, bool, torch.device, bool], SmallRuntime] = {}
        self._small_signs: dict[tuple[PauliWord, ...], np.ndarray | None] = {}
        self._last_signs: tuple[tuple[PauliWord, ...], np.ndarray | None] | None = None
        self._choice: dict[tuple[bool, bool, int, torch.device], bool] = {}

    def __getstate__(self) -> dict[str, Any]:
        """The plan without its compiled runtimes: they are caches of device tensors
        and local functions, rebuilt on first use, and a pickled plan (``torch.save``
        of a whole model, a worker's copy) failed on them once the small path had run."""
        state = self.__dict__.copy()
        state.update(_runtimes={}, _small={}, _small_signs={}, _last_signs=None, _choice={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A plan pickled before its circuit became :attr:`circuit`'s private copy kept
        it as ``circuit``, which the property now hides: moved to ``_circuit``."""
        if "circuit" in state:
            state["_circuit"] = state.pop("circuit")
        self.__dict__.update(state)

    @property
    def circuit(self) -> Circuit:
        """The circuit the plan runs, as a copy: the plan compiles lazily, so an edit of
        its own circuit (``plan.circuit.h(0)``) changed what ran if made before the first
        call and not after; read-only, so a circuit assigned to it cannot go unrun."""
        return self._circuit.copy()

    def to(self, *args: Any, **kwargs: Any) -> ExecutionPlan:
        """The plan itself, for a device (what ``torch.nn.Module.to`` takes: a device,
        a dtype, a tensor, ``device=``/``dtype=``). A plan holds no tensors of its own:
        it builds them on the device of each call's inputs (cached per device), so it
        runs wherever its inputs are and there is nothing to move; ``plan.to(device)``
        failed with a bare ``AttributeError``. A dtype is taken where it is the plan's
        (its complex dtype or the matching real one, as a tensor of inputs has);
        another precision is refused: a plan compiles for one, so
        ``compile_circuit(plan.circuit, dtype=...)`` makes another plan.

        Raises:
            SimulationError: arguments ``torch.nn.Module.to`` would refuse, or another
                precision.
        """
        try:
            _, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        except (TypeError, RuntimeError) as e:  # torch's first line names what was given
            given = str(e).splitlines()[0].removesuffix(", but expected one of:")
            raise SimulationError(
                f"ExecutionPlan.to takes a device, a dtype or a tensor, as torch.nn.Module.to "
                f"does: {given}"
            ) from None
        if dtype is not None and dtype not in (self.dtype, _real(self.dtype)):
            raise SimulationError(
                f"ExecutionPlan.to: this plan runs in {self.dtype}, not {dtype}; compile "
                f"another plan for it: compile_circuit(plan.circuit, dtype=...)"
            )
        return self

    # ------------------------------------------------------------------ compile
    def _runtime(self, with_prefix: bool, weights_batched: bool) -> Runtime:
        key = (with_prefix, weights_batched)
        rt = self._runtimes.get(key)
        if rt is None:
            eng = Engine(
                self._circuit,
                self.max_block_qubits,
                with_prefix=with_prefix,
                weights_batched=weights_batched,
            )
            rt = self._runtimes[key] = Runtime(eng, self.dtype)
        return rt

    def _small_runtime(
        self,
        with_prefix: bool,
        weights_batched: bool,
        device: torch.device,
        one_row: bool = False,
    ) -> SmallRuntime:
        key = (with_prefix, weights_batched, device, one_row)
        rt = self._small.get(key)
        if rt is None:
            prog = SmallProgram(
                self._circuit,
                with_prefix=with_prefix,
                weights_batched=weights_batched,
                whole_register=WHOLE_REGISTER,
                one_row=one_row,
            )
            rt = self._small[key] = SmallRuntime(
                prog, self.dtype, device, fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
            )
        return rt

    def _small_wins(
        self, with_prefix: bool, weights_batched: bool, rows: int, device: torch.device
    ) -> bool:
        """Whether this call runs on the small path (``path="auto"``: the cost model of
        :mod:`._small_cost`, decided once per start kind, weight kind and batch size)."""
        if self.path != "auto":
            return self.path == "small"
        key = (with_prefix, weights_batched, rows, device)
        hit = self._choice.get(key)
        if hit is None:
            features = self.path_features(with_prefix, weights_batched, device)
            if len(self._choice) > 64:
                self._choice.clear()
            hit = self._choice[key] = small_is_faster(features, rows, device.type)
        return hit

    def path_features(
        self, with_prefix: bool, weights_batched: bool, device: torch.device
    ) -> PlanFeatures:
        """What the path cost model (:mod:`._small_cost`) reads off both compiled
        programs of this plan (``benchmarks/path_cost.py`` fits the model on them)."""
        small = self._small_runtime(
            with_prefix and self._amplitude is None, weights_batched, device
        )
        eng = self._runtime(with_prefix, weights_batched).eng
        blocks, gathers = eng.n_passes
        kinds = ("input", "weight") if weights_batched else ("input",)
        per_sample = sum(
            any(isinstance(p, Param) and p.kind in kinds for p in op.params)
            for op in self._circuit.ops
        )
        return PlanFeatures(
            n_qubits=self.n_qubits,
            small_instructions=len(small.code),
            small_kron_layers=sum(1 for i in small.prog.instrs if i.op == "kron"),
            engine_blocks=blocks,
            engine_gathers=gathers,
            per_sample_gates=per_sample,
            engine_factors=sum(len(g.kinds) for g in eng.groups),
        )

    def _diagonal_signs(self, words: tuple[PauliWord, ...]) -> np.ndarray | None:
        """Sign table ``[2^n, n_obs]`` of diagonal words in canonical order, or None."""
        last = self._last_signs
        if last is not None and last[0] is words:  # a layer passes the same tuple each call
            return last[1]
        if words not in self._small_signs:
            ident = tuple(range(self.n_qubits))
            table = None
            if all(w.is_diagonal for w in words):
                table = np.stack([_word_tables(w, ident)[0] for w in words], axis=1)
            if len(self._small_signs) > 64:
                self._small_signs.clear()
            self._small_signs[words] = table
        table = self._small_signs[words]
        self._last_signs = (words, table)
        return table

    # ------------------------------------------------------------------ run time
    def _amplitude_state(
        self, inputs: torch.Tensor, batch: int, *, real: bool = False
    ) -> torch.Tensor:
        """The amplitude embedding's start state ``[batch, 2^n]`` (recorded by autograd);
        with ``real``, as the inputs' real dtype (the small path takes it so: its node
        converts it without an autograd node of its own, and its dense variant keeps it
        real, :mod:`~quarch.quantum._small_dense`)."""
        assert self._amplitude is not None
        nf, pad, normalize = self._amplitude
        dim = 2**self.n_qubits
        x = inputs[:, :nf]
        if nf < dim:
            x = torch.cat([x, x.new_full((batch, dim - nf), pad)], dim=-1)
        if normalize:
            norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
            if bool((norm == 0).any()):
                raise SimulationError("amplitude_embedding: an input vector has norm 0")
            x = x / norm
        return x if real else x.to(self.dtype)

    # torch.compile traces no further: the engine picks its path from values and shapes
    # at run time, builds its tables once per plan, and replays its own recorded calls
    # (quantum/_replay.py), none of which a traced graph can hold. A compiled model
    # compiles around the circuit, which runs as it does eagerly.
    @untraced
    def _execute(
        self,
        inputs: torch.Tensor | None,
        weights: torch.Tensor | Sequence[float] | None,
        initial_state: torch.Tensor | None,
        words: tuple[PauliWord, ...] | None,
    ) -> torch.Tensor:
        """Expectations of ``words`` ``[batch, n_obs]``, or the state ``[batch, 2**n]``
        in canonical order when ``words`` is None."""
        return self._execute_eager(inputs, weights, initial_state, words)

    def _execute_eager(
        self,
        inputs: torch.Tensor | None,
        weights: torch.Tensor | Sequence[float] | None,
        initial_state: torch.Tensor | None,
        words: tuple[PauliWord, ...] | None,
    ) -> torch.Tensor:
        # _execute's body, undecorated: mutmut 3 mutates no decorated function
        if torch._C._are_functorch_transforms_active():  # what autograd.Function asks too
            raise SimulationError(TRANSFORMS_REFUSAL)
        if torch._C._is_tracing():  # torch.jit.is_tracing() without its Python preamble
            raise SimulationError(TRACE_REFUSAL)
        inputs, w, init, lead, device = self._arguments(inputs, weights, initial_state)
        out = self._run(inputs, w, init, math.prod(lead), device, words)
        return out if len(lead) == 1 else out.reshape(*lead, out.shape[-1])

    def _run(
        self,
        inputs: torch.Tensor | None,
        w: torch.Tensor,
        init: torch.Tensor | None,
        batch: int,
        device: torch.device,
        words: tuple[PauliWord, ...] | None,
    ) -> torch.Tensor:
        """:meth:`_execute` on checked rows: ``[batch, n_obs]`` or ``[batch, 2**n]``."""
        if batch == 0:
            return self._no_rows(inputs, w, init, words)
        if self._small_wins(init is None, w.dim() == 2, batch, device):
            return self._execute_small(inputs, w, init, batch, device, words)
        rt = self._runtime(init is None, w.dim() == 2)
        eng = rt.eng
        psi0 = init
        if init is None and eng.amplitude is not None:
            assert inputs is not None
            psi0 = self._amplitude_state(inputs, batch)
        signs = sign_table(eng, words) if words is not None else None
        out = execute(rt, inputs, w, psi0, batch, device, signs)
        if out.shape[0] != batch:
            out = out.expand(batch, -1)
        if signs is not None:
            return out
        if not eng.identity_layout:
            inv = rt.const("canon", lambda: torch.as_tensor(np.argsort(eng.sigma)), device)
            out = out[:, inv]
        if words is None:
            return out
        return expval_in_layout(out, words, tuple(range(self.n_qubits)))

    def _no_rows(
        self,
        inputs: torch.Tensor | None,
        w: torch.Tensor,
        init: torch.Tensor | None,
        words: tuple[PauliWord, ...] | None,
    ) -> torch.Tensor:
        """The result for a batch of no rows, ``[0, n_obs]`` or ``[0, 2**n]``, as
        ``torch.nn.Linear`` gives one: empty, yet on autograd's graph of the weights and
        inputs, so a loss over a data set's empty last batch still backpropagates."""
        width = 2**self.n_qubits if words is None else len(words)
        dtype = self.dtype if words is None else _real(self.dtype)
        return no_rows((0, width), dtype, w.device, w, inputs, init)

    def _execute_small(
        self,
        inputs: torch.Tensor | None,
        w: torch.Tensor,
        init: torch.Tensor | None,
        batch: int,
        device: torch.device,
        words: tuple[PauliWord, ...] | None,
    ) -> torch.Tensor:
        """:meth:`_execute` on the small-circuit path (one autograd node)."""
        psi0 = init
        if init is None and self._amplitude is not None:
            assert inputs is not None
            psi0 = self._amplitude_state(inputs, batch, real=True)
        batched_w = w.dim() == 2
        rt = self._small_runtime(psi0 is None, batched_w, device)
        if batch == 1 and rt.prog.batched:  # one row: per-sample angles are shared
            rt = self._small_runtime(psi0 is None, batched_w, device, one_row=True)
        table = None if words is None else self._diagonal_signs(words)
        signs = None if table is None else rt.signs(table)
        run = _NODE_APPLY if torch.is_grad_enabled() else _forward_only
        out = run(
            rt,
            signs,
            batch,
            None if batched_w else w,
            inputs if rt.reads_inputs else None,
            w if batched_w else None,
            psi0,
        )
        if out.shape[0] != batch:
            out = out.expand(batch, -1)
        if words is None or signs is not None:
            return out
        return expval_in_layout(out, words, tuple(range(self.n_qubits)))

    # ------------------------------------------------------------------ public
    def state(
        self,
        inputs: torch.Tensor | None = None,
        weights: torch.Tensor | Sequence[float] | None = None,
        *,
        initial_state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final states ``[batch, 2**n]`` (wire 0 = most significant bit).

        Args:
            inputs: features ``[batch, n_inputs]`` (one row per sample; ``[*,
                n_inputs]`` gives ``[*, 2**n]``).
            weights: trainable weights ``[n_weights]`` shared by the batch, or
                ``[batch, n_weights]`` for one weight vector per sample (a ``[1,
                n_weights]`` row is shared; ``[*, n_weights]`` broadcast with the
                inputs' leading shape).
            initial_state: start state ``[2**n]`` or ``[batch, 2**n]`` instead of
                ``|0...0>`` (lets QAOA alternate this plan with :func:`apply_diagonal`;
                ``[*, 2**n]`` broadcast as the weights are).

        Raises:
            SimulationError: shapes do not fit the circuit or each other.
        """
        return self._execute(inputs, weights, initial_state, None)

    def expval(
        self,
        observables: ObservableLike | Sequence[ObservableLike] | None = None,
        inputs: torch.Tensor | None = None,
        weights: torch.Tensor | Sequence[float] | None = None,
        *,
        initial_state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Expectations of Pauli words ``[batch, n_obs]``; ``None`` means <Z> per qubit.
        Arguments as for :meth:`state` (``[*, n_inputs]`` gives ``[*, n_obs]``)."""
        words = parse_observables(observables, self.n_qubits)
        return self._execute(inputs, weights, initial_state, words)

    def probs(
        self,
        inputs: torch.Tensor | None = None,
        weights: torch.Tensor | Sequence[float] | None = None,
        *,
        initial_state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Basis-state probabilities ``[batch, 2**n]``; arguments as for :meth:`state`."""
        psi = self.state(inputs, weights, initial_state=initial_state)
        return psi.real.square() + psi.imag.square()

    @property
    def n_blocks(self) -> int:
        """Number of fused blocks (matmuls over the state) per execution."""
        return self._runtime(True, False).eng.n_passes[0]


def compile_circuit(
    circuit: Circuit,
    *,
    dtype: torch.dtype = torch.complex64,
    max_block_qubits: int | None = None,
    path: str = "auto",
) -> ExecutionPlan:
    """Compile ``circuit`` once into a plan for fast repeated batched execution.

    Example:
        >>> from quarch.quantum import Circuit, Input
        >>> c = Circuit(2).ry(0, Input(0)).cnot(0, 1)
        >>> plan = compile_circuit(c)
        >>> plan.expval(["Z0", "Z0 Z1"], inputs=torch.zeros(3, 1)).shape
        torch.Size([3, 2])
    """
    return ExecutionPlan(circuit, dtype=dtype, max_block_qubits=max_block_qubits, path=path)


def statevector(
    circuit: Circuit,
    weights: Sequence[float] | torch.Tensor | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Final state of a circuit without inputs: ``2**n_qubits`` complex amplitudes.

    Amplitude ``k`` belongs to the basis state whose bits, wire 0 first, spell ``k``.
    Computed in complex128 unless ``dtype`` says otherwise (a reference state for
    tests and exporters, where precision matters more than speed).

    Raises:
        CircuitError: the circuit reads input features (use
            ``compile_circuit(circuit).state(inputs=...)``).

    Example:
        >>> from quarch.quantum import Circuit
        >>> statevector(Circuit(1).h(0))
        tensor([0.7071+0.j, 0.7071+0.j], dtype=torch.complex128)
    """
    if require_circuit(circuit, "statevector").n_inputs:
        raise CircuitError(
            f"statevector: this circuit reads {circuit.n_inputs} input feature(s); "
            "use compile_circuit(circuit).state(inputs=...)"
        )
    plan = compile_circuit(circuit, dtype=dtype or torch.complex128)
    return plan.state(weights=weights)[0]
