"""Mutation score of the modules that carry quarch's claims (mutmut 3), one module at a time.

Usage::

    pip install -e '.[mutation]'
    python benchmarks/mutation.py --module cutting            # one group
    python benchmarks/mutation.py --module all --children 2   # every group, in turn
    python benchmarks/mutation.py --module noise --report-only  # the last run, re-scored

Each group names the source files mutmut mutates and the tests that must kill the
mutants (so a group runs in minutes, not hours: mutmut 3 still picks, per mutated
function, only the selected tests that call it). The work happens in a scratch copy
outside the checkout (``--work``, default ``$TMPDIR/quarch-mutation/<group>``), because
``tests/conftest.py`` fails a session that writes into the checkout and mutmut writes
``mutants/`` next to its config.

It prints, per group, the mutants killed, survived, not reached by the selected tests
("no tests") and listed as equivalent in ``benchmarks/mutation_equivalent.txt``, the
score ``killed / (all - equivalent)`` and every surviving mutant's name (``--diffs``
prints their diffs as well). A benchmark: it prints and never asserts, and it is not part
of the test suite (too slow).

The list of equivalent mutants has one listing a line::

    quarch.search._grover.x_amplified_probs__mutmut_7  @1a2b3c4d  # reason

mutmut names a mutant by its number within its function, and numbers a function's
mutants afresh whenever the function changes, so a name can come to mean another
mutant. The pin (``@`` and 8 hex digits) is the start of the SHA-256 of the mutant's
removed and added lines as mutmut's ``get_diff_for_mutant`` shows them, each with its
whitespace collapsed (``pin_of``; line numbers, context lines and indentation are not
part of it, so an edit elsewhere in the function keeps it). A listing counts as
equivalent only while its mutant survives and its diff today has the listing's pin.
Otherwise it is printed, with today's diff, as ``stale listing (diff changed)`` (or
``(killed)``, ``(no such mutant)``), or as ``unpinned listing`` (a line without a pin,
the old format, still read), and its mutant is counted like any other: the score drops
until someone reads the listing again. Without running tests::

    python benchmarks/mutation.py --check-listings --module noise   # or --module all
    python benchmarks/mutation.py --check-listings --module noise --renumber
    python benchmarks/mutation.py --pin NAME [NAME ...]
    python benchmarks/mutation.py --pin-unpinned --module noise

``--check-listings`` generates the group's mutants (no tests run: 23 s for ``export``,
about 13 minutes for ``all`` on two shared, busy cores) and prints every stale or
unpinned listing of its modules with today's diff (``all`` also: listings of a module in
no group), exit status 1 if there is any; a stale
listing's pinned diff that another mutant of its function has today is named (the
listing was renumbered), and ``--renumber`` moves a listing to that mutant when it is
the only one and not listed (or listed and moving away too: a function's mutants shift
together), and the ``same as _N`` references to it with it. ``--pin`` pins listed names to their diffs today and
``--pin-unpinned`` every unpinned listing of a group; both print each diff under its
reason, which the person pinning has read (a pin says: this reason was read against
this diff). To list a new equivalent: append ``NAME  # reason``, then ``--pin NAME``.

Limits of mutmut 3 worth knowing when reading a score: it mutates code inside functions
and methods only (module-level tables such as ``cost/cutting.py``'s ``_CNOTS`` are not
mutated; ``tests/cost/test_cutting_truth.py`` checks that table against Qiskit), and a
mutant counts as killed when any selected test fails, timeouts included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.txt"

#: group -> (files mutmut mutates, tests that must kill their mutants)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "strategies": (
        ["src/quarch/search/_qiea.py", "src/quarch/search/_qpso.py", "src/quarch/search/_grover.py"],
        ["tests/search/test_qiea.py", "tests/search/test_qpso.py", "tests/search/test_grover.py",
         "tests/search/test_moves_replayed.py", "tests/search/test_screened_moves_replayed.py",
         "tests/search/test_strategy_options.py",
         "tests/search/test_common.py::TestPlainOptunaStudies",
         "tests/search/test_grover_listings_truth.py", "tests/search/test_grover_dtype_truth.py"],
    ),
    "results": (
        ["src/quarch/study/_result.py", "src/quarch/objectives.py"],
        ["tests/study/test_results_truth.py", "tests/study/test_result_records.py",
         "tests/test_objectives.py",
         "tests/test_did_you_mean_truth.py",
         "tests/study/test_parallel_join_truth.py"],
    ),
    "cutting": (
        ["src/quarch/cost/cutting.py"],
        ["tests/cost/test_cutting.py", "tests/cost/test_cutting_truth.py",
         "tests/cost/test_cost_arguments_truth.py", "tests/cost/test_cut_groups_truth.py"],
    ),
    "noise": (
        ["src/quarch/quantum/noise.py", "src/quarch/quantum/noisy_circuit.py",
         "src/quarch/quantum/_noisy_arguments.py", "src/quarch/quantum/_noisy_batch.py",
         "src/quarch/quantum/readout.py"],
        ["tests/quantum/test_noise.py", "tests/quantum/test_noise_truth.py",
         "tests/quantum/test_trajectories.py", "tests/quantum/test_noise_compile_truth.py",
         "tests/quantum/test_noise_model_truth.py", "tests/cost/test_device_costs.py",
         "tests/quantum/test_noisy_real_dtype_truth.py",
         "tests/quantum/test_device_placement.py::test_noisy_simulations",
         "tests/quantum/test_noise_arguments_truth.py",
         "tests/quantum/test_noise_broadcast_truth.py",
         "tests/quantum/test_noisy_program_truth.py",
         "tests/quantum/test_noisy_batch_truth.py",
         "tests/quantum/test_noisy_batch_mutants_truth.py",
         "tests/spaces/hqnn/test_noise_truth.py::test_the_memory_check_names_the_need_and_the_limit"],
    ),
    "export": (
        ["src/quarch/quantum/export.py", "src/quarch/quantum/qasm.py"],
        ["tests/quantum/test_pennylane_source.py", "tests/quantum/test_qasm.py",
         "tests/quantum/test_qasm_reader_truth.py", "tests/quantum/test_exporters_truth.py",
         "tests/quantum/test_export_listings_truth.py",
         "tests/quantum/test_library_use_truth.py::test_from_qasm_given_a_file_name_says_to_read_the_file",
         "tests/quantum/test_library_use_truth.py::test_bind_refuses_weights_that_are_not_finite_numbers",
         "tests/test_export_truth.py::test_scaled_angles_against_the_closed_form",
         "tests/test_export_truth.py::test_amplitude_embedding_and_adjoint_gates_in_pennylane",
         "tests/test_export_truth.py::test_exporter_errors_say_what_to_pass",
         "tests/test_export_truth.py::test_qasm_binds_weights_and_names_what_it_cannot_write"],
    ),
    "simulator": (
        ["src/quarch/quantum/_apply.py", "src/quarch/quantum/_matrices.py"],
        ["tests/quantum/test_simulator.py", "tests/quantum/test_small_path.py",
         "tests/quantum/test_device_placement.py", "tests/quantum/test_measurements.py",
         "tests/quantum/test_templates.py", "tests/quantum/test_pennylane_source.py",
         "tests/quantum/test_engine_kernels_truth.py"],
    ),
    "simulator-entry": (
        ["src/quarch/quantum/simulator.py", "src/quarch/quantum/_plan_arguments.py",
         "src/quarch/quantum/layer.py",
         "src/quarch/quantum/_memory.py", "src/quarch/quantum/_arguments.py"],
        ["tests/quantum/test_simulator.py", "tests/quantum/test_small_path.py",
         "tests/quantum/test_device_placement.py", "tests/quantum/test_measurements.py",
         "tests/quantum/test_templates.py", "tests/quantum/test_small_dense.py",
         "tests/quantum/test_memory.py", "tests/quantum/test_path_features.py",
         "tests/quantum/test_simulator_entry.py",
         "tests/quantum/test_library_use_truth.py",
         "tests/quantum/test_plan_library_truth.py",
         "tests/quantum/test_plan_broadcast_truth.py",
         "tests/quantum/test_noise_broadcast_truth.py",
         "tests/test_recipes_api_errors_truth.py"],
    ),
    "small-engine": (
        ["src/quarch/quantum/_small_run.py", "src/quarch/quantum/_second_order.py"],
        [
            "tests/quantum/test_small_path.py",
            "tests/quantum/test_replay.py",
            "tests/quantum/test_cuda_graph.py",
            "tests/quantum/test_small_dense.py",
            "tests/quantum/test_device_placement.py",
        ],
    ),
    "small-dense": (
        ["src/quarch/quantum/_small_dense.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py",
         "tests/quantum/test_dense_reupload_work_truth.py"],
    ),
    "dense-fourier": (
        ["src/quarch/quantum/_dense_fourier.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py"],
    ),
    "dense-diagonal": (
        ["src/quarch/quantum/_dense_diagonal.py", "src/quarch/quantum/_products.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py"],
    ),
    "dense-product": (
        ["src/quarch/quantum/_dense_product.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py",
         "tests/quantum/test_small_listings_truth.py::test_tiny_constant_phases_are_kept_on_the_dense_variant"],
    ),
    "dense-shared": (
        ["src/quarch/quantum/_dense_shared.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py",
         "tests/quantum/test_small_listings_truth.py::test_tiny_constant_phases_are_kept_on_the_dense_variant"],
    ),
    "dense-reupload": (
        ["src/quarch/quantum/_dense_reupload.py"],
        ["tests/quantum/test_small_dense.py", "tests/quantum/test_device_placement.py"],
    ),
    "replay": (
        ["src/quarch/quantum/_replay.py", "src/quarch/quantum/_agreement.py"],
        ["tests/quantum/test_replay.py", "tests/quantum/test_cuda_graph.py",
         "tests/quantum/test_replay_use_truth.py"],
    ),
    "cuda-graph": (
        ["src/quarch/quantum/_cuda_graph.py"],
        ["tests/quantum/test_cuda_graph.py"],
    ),
    "training": (
        ["src/quarch/evaluate/_flat_adam.py"],
        ["tests/test_flat_adam.py", "tests/test_training_loop.py"],
    ),
    "short-training": (
        ["src/quarch/evaluate/training.py"],
        # mutmut 3 mutates no decorated function: epoch_hook and torch_threads (context
        # managers) are checked by hand in test_training_truth; train_classifier runs
        # its loop in a `with` block for this reason
        ["tests/test_training_truth.py", "tests/test_training_loop.py",
         "tests/test_seeded_rng.py", "tests/spaces/hqnn/test_record_epochs.py",
         "tests/spaces/hqnn/test_evaluator.py::TestCorrectness::test_early_stopping_reports_the_kept_weights",
         "tests/spaces/cnn/test_evaluator.py::TestEvaluators::test_thread_count_is_restored",
         # the training-loop claims only (the rest run searches; tests/test_eager.py runs
         # quarch in subprocesses, which cannot find mutmut's mutated copy)
         "tests/study/test_pruning.py::test_epoch_hook_sees_the_validation_error_after_each_epoch",
         "tests/study/test_pruning.py::test_epoch_hook_with_early_stopping_reports_the_best_so_far"],
    ),
    "device-costs": (
        ["src/quarch/cost/routing.py", "src/quarch/cost/device_costs.py",
         "src/quarch/cost/success.py", "src/quarch/cost/quantum.py",
         "src/quarch/cost/calibration.py", "src/quarch/cost/one_way.py"],
        ["tests/cost/test_routing.py", "tests/cost/test_device_costs.py",
         "tests/cost/test_quantum.py", "tests/cost/test_calibration.py",
         "tests/cost/test_devices.py", "tests/cost/test_calibration_truth.py",
         "tests/cost/test_device_costs_truth.py", "tests/cost/test_quantum_costs_truth.py",
         "tests/cost/test_routing_truth.py",
         # the bodies taken out of their caches (calibrations, regions, routes), uncached
         "tests/cost/test_calibration_tables_truth.py", "tests/cost/test_route_layouts_truth.py",
         "tests/cost/test_cost_arguments_truth.py", "tests/cost/test_mottonen_device_truth.py",
         "tests/test_hardware_regions_truth.py", "tests/cost/test_route_region_truth.py",
         "tests/cost/test_route_one_way_truth.py", "tests/cost/test_cairo_noise_truth.py",
         "tests/cost/test_route_circuit_order_truth.py"],
    ),
    "benchmark": (
        ["src/quarch/benchmark/_stats.py", "src/quarch/benchmark/_result.py"],
        ["tests/test_benchmark.py", "tests/test_benchmark_costs.py",
         "tests/test_benchmark_stats_truth.py", "tests/test_benchmark_result_truth.py",
         # quarch in a subprocess of a tmp folder cannot find mutmut's mutated copy
         "--deselect",
         "tests/test_benchmark.py::TestUserTask::test_readme_task_runs_from_the_command_line",
         "--deselect",
         "tests/test_benchmark_costs.py::test_workers_forked_after_qiskit_transpiled_do_not_hang"],
    ),
    "qubo": (
        ["src/quarch/search/_qubo.py", "src/quarch/search/_annealers.py",
         "src/quarch/search/_sqa.py"],
        ["tests/search/test_qubo.py", "tests/search/test_sqa.py",
         "tests/search/test_strategy_options.py", "tests/search/test_polish.py",
         "tests/search/test_escape.py", "tests/search/test_trust_region.py",
         "tests/search/test_models.py", "tests/search/test_gp.py",
         "tests/search/test_strategies.py::test_finds_brute_force_optimum_in_most_seeds[qubo-sa]",
         "tests/search/test_strategies.py::test_finds_brute_force_optimum_in_most_seeds[qubo-sqa]",
         "tests/search/test_strategies.py::test_finds_brute_force_optimum_in_most_seeds[qubo-dimod]",
         "tests/search/test_qubo_truth.py", "tests/search/test_annealers_truth.py",
         "tests/search/test_qubo_listings_truth.py"],
    ),
    "quantum-strategies": (
        ["src/quarch/search/_qaoa.py", "src/quarch/search/_vqe.py",
         "src/quarch/search/_born.py"],
        ["tests/search/test_qaoa.py", "tests/search/test_vqe.py", "tests/search/test_born.py",
         "tests/search/test_qaoa_truth.py", "tests/search/test_vqe_truth.py",
         "tests/search/test_born_truth.py", "tests/search/test_strategies.py",
         "tests/search/test_common.py::TestPlainOptunaStudies",
         "tests/search/test_qubo.py::TestSolverProtocol::test_any_solver_in_either_mode",
         # the contract and brute-force cases of these three strategies only
         "-k", "qaoa or vqe or born or any_solver"],
    ),
    "edge-costs": (
        ["src/quarch/spaces/cnn/costs.py", "src/quarch/cost/classical.py",
         "src/quarch/spaces/nb201/costs.py"],
        ["tests/spaces/cnn/test_costs.py", "tests/spaces/nb201/test_costs.py",
         "tests/spaces/cnn/test_model.py::TestPlan::test_macs_equal_torch_flop_counter",
         "tests/spaces/cnn/test_costs_truth.py", "tests/spaces/nb201/test_costs_truth.py",
         "tests/cost/test_classical.py",
         "tests/test_recipes_api_errors_truth.py"],
    ),
    "baselines": (
        ["src/quarch/search/_evolution.py", "src/quarch/search/_local.py",
         "src/quarch/search/_reinforce.py", "src/quarch/search/_nsga2.py",
         "src/quarch/search/_random.py", "src/quarch/search/_grid.py"],
        ["tests/search/test_evolution.py", "tests/search/test_local.py",
         "tests/search/test_reinforce.py", "tests/search/test_grid.py",
         "tests/search/test_common.py", "tests/search/test_strategy_options.py",
         "tests/search/test_search_quality.py", "tests/search/test_strategies.py",
         # the contract and brute-force cases of the baselines only
         "-k", "not (qiea or qpso or qubo or qaoa or vqe or born or grover)"],
    ),
    "search-common": (
        ["src/quarch/search/_common.py", "src/quarch/search/_problem.py"],
        ["tests/search/test_common.py", "tests/search/test_qubo_truth.py",
         "tests/search/test_annealers_truth.py", "tests/search/test_moves_replayed.py",
         "tests/search/test_screened_moves_replayed.py", "tests/search/test_qubo.py",
         "tests/search/test_strategy_options.py", "tests/search/test_strategies.py",
         # the QUBO with budget slack bits, by brute force (Problem.Q, penalty, offset)
         "tests/search/test_models.py", "tests/search/test_trust_region.py",
         "tests/search/test_problem_penalty_truth.py", "tests/search/test_problem_listings_truth.py"],
    ),
    "gates-templates": (
        ["src/quarch/quantum/gates.py", "src/quarch/quantum/templates.py"],
        ["tests/quantum/test_gates_truth.py", "tests/quantum/test_templates.py",
         "tests/quantum/test_templates_truth.py", "tests/quantum/test_simulator.py",
         "tests/quantum/test_measurements.py", "tests/quantum/test_pennylane_source.py",
         "tests/quantum/test_exporters_truth.py", "tests/quantum/test_qasm.py",
         "tests/quantum/test_metrics_truth.py", "tests/cost/test_quantum_costs_truth.py",
         "tests/quantum/test_gate_pairs_truth.py", "tests/quantum/test_gate_arguments_truth.py",
         "tests/quantum/test_library_use_truth.py",
         "tests/quantum/test_plan_library_truth.py",
         # the meta device plays a GPU: a matrix built on the wrong device fails there
         "tests/quantum/test_device_placement.py::test_every_gate",
         "tests/quantum/test_device_placement.py::test_gate_matrices_and_diagonal_phases"],
    ),
    "circuit-measurements": (
        ["src/quarch/quantum/circuit.py", "src/quarch/quantum/measurements.py"],
        ["tests/quantum/test_measurements.py", "tests/quantum/test_simulator.py",
         "tests/quantum/test_templates.py", "tests/quantum/test_templates_truth.py",
         "tests/quantum/test_gates_truth.py", "tests/quantum/test_pennylane_source.py",
         "tests/quantum/test_qasm.py", "tests/quantum/test_metrics_truth.py",
         "tests/quantum/test_simulator_entry.py", "tests/quantum/test_circuit_truth.py",
         "tests/quantum/test_library_use_truth.py",
         # the meta device plays a GPU: a table left on the host fails there
         "tests/quantum/test_device_placement.py::test_random_circuits",
         "tests/quantum/test_device_placement.py::test_gate_matrices_and_diagonal_phases",
         "tests/quantum/test_measurement_arguments_truth.py"],
    ),
    "surrogates": (
        ["src/quarch/search/_surrogate.py", "src/quarch/search/_models.py",
         "src/quarch/search/_gp.py", "src/quarch/search/_fm.py"],
        ["tests/search/test_models.py", "tests/search/test_gp.py",
         "tests/search/test_qubo_truth.py", "tests/search/test_annealers_truth.py",
         "tests/search/test_screened_moves_replayed.py", "tests/search/test_trust_region.py",
         "tests/search/test_qubo.py::TestModel", "tests/search/test_qubo.py::TestPosterior",
         "tests/search/test_qubo.py::TestSolverProtocol",
         "tests/search/test_surrogate_truth.py", "tests/search/test_models_truth.py",
         "tests/search/test_gp_truth.py", "tests/search/test_fm_truth.py",
         "tests/search/test_surrogate_tie_truth.py", "tests/search/test_models_listings_truth.py"],
    ),
    "devices-trajectories": (
        ["src/quarch/cost/devices.py", "src/quarch/quantum/trajectories.py"],
        ["tests/cost/test_devices.py", "tests/cost/test_quantum.py",
         "tests/cost/test_device_costs.py", "tests/spaces/cnn/test_costs.py",
         "tests/spaces/cnn/test_costs_truth.py", "tests/quantum/test_trajectories.py",
         "tests/quantum/test_noise_compile_truth.py",
         "tests/quantum/test_device_placement.py::test_noisy_simulations",
         "tests/spaces/hqnn/test_device.py", "tests/spaces/hqnn/test_noisy_scoring_truth.py",
         "tests/cost/test_devices_truth.py", "tests/quantum/test_trajectories_truth.py",
         "tests/quantum/test_noisy_program_truth.py", "tests/quantum/test_noisy_batch_truth.py",
         "tests/quantum/test_noisy_real_dtype_truth.py",
         "tests/test_did_you_mean_truth.py",
         "tests/quantum/test_noise_arguments_truth.py",
         "tests/quantum/test_noise_broadcast_truth.py",
         "tests/cost/test_device_lookup_arguments_truth.py"],
    ),
    "engine-plan": (
        ["src/quarch/quantum/_plan.py", "src/quarch/quantum/_compile.py",
         "src/quarch/quantum/_fuse.py", "src/quarch/quantum/_layout.py",
         "src/quarch/quantum/_rotchain.py"],
        ["tests/quantum/test_simulator.py", "tests/quantum/test_simulator_entry.py",
         "tests/quantum/test_rotchain.py", "tests/quantum/test_circuit_truth.py",
         "tests/quantum/test_gates_truth.py", "tests/quantum/test_templates_truth.py",
         "tests/quantum/test_measurements.py", "tests/quantum/test_path_features.py",
         "tests/quantum/test_device_placement.py", "tests/quantum/test_layout_truth.py",
         "tests/quantum/test_fuse_truth.py", "tests/quantum/test_compile_truth.py",
         "tests/quantum/test_engine_layout_truth.py"],
    ),
    "engine-gradients": (
        ["src/quarch/quantum/_adjoint.py", "src/quarch/quantum/_gatewise.py",
         "src/quarch/quantum/_measure.py", "src/quarch/quantum/_simulate.py",
         "src/quarch/quantum/metrics.py"],
        ["tests/quantum/test_simulator.py", "tests/quantum/test_simulator_entry.py",
         "tests/quantum/test_circuit_truth.py", "tests/quantum/test_gates_truth.py",
         "tests/quantum/test_measurements.py", "tests/quantum/test_metrics.py",
         "tests/quantum/test_metrics_truth.py", "tests/quantum/test_path_features.py",
         "tests/quantum/test_device_placement.py", "tests/quantum/test_adjoint_truth.py",
         "tests/quantum/test_gatewise_truth.py", "tests/quantum/test_measure_truth.py"],
    ),
    "small-plan": (
        ["src/quarch/quantum/_small_plan.py", "src/quarch/quantum/_small_runtime.py",
         "src/quarch/quantum/_small_cost.py"],
        ["tests/quantum/test_small_path.py", "tests/quantum/test_small_dense.py",
         "tests/quantum/test_replay.py", "tests/quantum/test_cuda_graph.py",
         "tests/quantum/test_simulator_entry.py", "tests/quantum/test_path_features.py",
         "tests/quantum/test_device_placement.py", "tests/quantum/test_small_plan_truth.py",
         "tests/quantum/test_small_cost_truth.py", "tests/quantum/test_small_runtime_truth.py",
         "tests/quantum/test_small_runtime_opcodes_truth.py",
         "tests/quantum/test_small_runtime_tables_truth.py",
         "tests/quantum/test_small_listings_truth.py",
         # the meta-device runs of the other engines (a third of the time, none of this code)
         "--deselect", "tests/quantum/test_device_placement.py::test_noisy_simulations",
         "--deselect", "tests/quantum/test_device_placement.py::test_every_gate[engine]",
         "--deselect",
         "tests/quantum/test_device_placement.py::test_random_circuits[engine-1-torch.complex64]",
         "--deselect",
         "tests/quantum/test_device_placement.py::test_random_circuits[engine-128-torch.complex128]"],
    ),
    "space-circuits": (
        ["src/quarch/space/_space.py", "src/quarch/search/_circuits.py"],
        ["tests/space/test_space.py", "tests/space/test_space_truth.py",
         "tests/search/test_circuits_truth.py", "tests/search/test_qaoa.py",
         "tests/search/test_vqe.py", "tests/search/test_born.py",
         "tests/search/test_qaoa_truth.py", "tests/search/test_vqe_truth.py",
         "tests/search/test_born_truth.py", "tests/test_config.py"],
    ),
    "cnn-space": (
        ["src/quarch/spaces/cnn/model.py", "src/quarch/spaces/cnn/costs.py",
         "src/quarch/spaces/cnn/space.py", "src/quarch/spaces/cnn/supernet.py",
         "src/quarch/spaces/nb201/costs.py", "src/quarch/spaces/nb201/space.py"],
        ["tests/spaces/cnn/test_costs.py", "tests/spaces/cnn/test_costs_truth.py",
         "tests/spaces/cnn/test_model.py", "tests/spaces/cnn/test_space.py",
         "tests/spaces/cnn/test_supernet.py", "tests/spaces/nb201/test_costs.py",
         "tests/spaces/nb201/test_costs_truth.py", "tests/spaces/nb201/test_space.py",
         "tests/spaces/cnn/test_model_truth.py", "tests/spaces/cnn/test_supernet_truth.py",
         "tests/spaces/cnn/test_space_truth.py", "tests/spaces/nb201/test_space_truth.py"],
    ),
    "report": (
        ["src/quarch/report/__init__.py", "src/quarch/report/_plots.py",
         "src/quarch/report/_quantum.py", "src/quarch/report/_circuit_svg.py"],
        ["tests/report/test_circuit_svg.py", "tests/report/test_report.py",
         "tests/report/test_report_contents.py", "tests/report/test_circuit_svg_truth.py",
         "tests/report/test_plots_truth.py", "tests/report/test_quantum_section_truth.py",
         "tests/report/test_report_truth.py", "tests/report/test_write_report_truth.py",
         "tests/report/test_report_parts_truth.py",
         "tests/test_layout_provenance_run_truth.py",
         "tests/report/test_plots_seen_truth.py", "tests/report/test_circuit_svg_seen_truth.py",
         "tests/report/test_plots_style_truth.py",
         "tests/spaces/hqnn/test_device.py::test_search_report_and_export_on_a_device",
         "tests/test_cli_user_path_truth.py::test_trials_and_report_of_a_weighted_run_show_the_cost_it_is_ranked_by"],
    ),
    "study-loop": (
        ["src/quarch/study/_loop.py", "src/quarch/study/_storage.py", "src/quarch/study/_run.py",
         "src/quarch/_pruner_options.py",
         "src/quarch/study/_arguments.py", "src/quarch/study/_pruner_check.py",
         "src/quarch/study/_progress.py"],
        ["tests/study/test_loop_truth.py", "tests/study/test_storage_truth.py",
         "tests/study/test_pruner_options_truth.py",
         "tests/test_cli_user_audit_truth.py::test_the_command_line_refuses_a_pruner_option_in_the_apis_words_before_torch",
         "tests/study/test_storage_lock_truth.py",
         "tests/study/test_run_truth.py", "tests/study/test_loop_prepare_truth.py",
         "tests/study/test_storage_wal_truth.py", "tests/study/test_loop_workers_truth.py",
         "tests/study/test_sqlite_url_truth.py", "tests/study/test_resume_budget_truth.py",
         "tests/test_layout_provenance_run_truth.py",
         "tests/study/test_shared_database_truth.py", "tests/test_open_defects_api.py",
         "tests/test_notebook_progress_truth.py", "tests/test_notebook_display_truth.py::test_a_run_reads_as_what_it_is",
         "tests/test_notebook_benchmark_bar_truth.py", "tests/test_notebook_progress_mutants_truth.py",
         "tests/study/test_run_lifecycle.py::test_a_failed_start_writes_nothing",
         "tests/study/test_run_lifecycle.py::test_a_failed_start_in_a_used_folder_keeps_what_was_there",
         "tests/study/test_run_lifecycle.py::test_existing_run_asks_for_resume_or_overwrite_in_api_words",
         "tests/study/test_run_lifecycle.py::test_overwrite_replaces_the_run_and_keeps_other_files",
         "tests/study/test_run_lifecycle.py::test_stop_reasons",
         "tests/study/test_run_lifecycle.py::test_giving_up_says_how_far_the_run_got",
         "tests/study/test_run_lifecycle.py::test_a_trial_number_that_is_not_an_integer",
         "tests/study/test_loop.py::test_runs_to_budget_and_records_everything",
         "tests/study/test_loop.py::test_failed_and_nan_trials_are_recorded_and_search_goes_on",
         "tests/study/test_loop.py::test_budgets_make_trials_infeasible",
         "tests/study/test_loop.py::test_existing_folder_needs_resume",
         "tests/study/test_loop.py::test_resume_refuses_other_data",
         "tests/study/test_loop.py::test_not_a_run_folder",
         "tests/study/test_resume_equal.py::test_resumed_equals_uninterrupted[random]",
         "tests/study/test_storage_wal.py::test_wal_while_writing_one_file_after",
         "tests/study/test_pruning.py::test_pruner_refused_before_anything_is_written",
         "tests/study/test_parallel.py::test_resume_refuses_incompatible_config",
         "tests/study/test_parallel_truth.py::test_ray_gives_the_serial_loops_trials",
         "tests/study/test_parallel_truth.py::test_a_ray_search_past_its_timeout_says_so",
         "tests/test_cli_mistakes.py::test_a_relative_sqlite_url_is_recorded_absolute",
         "tests/test_spec_options_leftovers_truth.py::test_the_python_api_keeps_the_command_lines_rule",
         "tests/study/test_parallel_main_module_truth.py::test_a_search_from_a_session_refuses_its_session_objects_before_writing",
         "tests/study/test_parallel_main_module_truth.py::test_a_search_from_a_session_refuses_a_space_registered_there",
         "tests/study/test_resume_check_shared_database_truth.py"],
    ),
    "onnx-finalize": (
        ["src/quarch/cost/onnx.py", "src/quarch/finalize.py"],
        # tests/test_finalize.py (real runs, about 90 s) kills nothing these do not
        ["tests/spaces/cnn/test_onnx.py", "tests/cost/test_onnx_truth.py",
         "tests/test_finalize_truth.py", "tests/test_export_truth.py",
         "tests/test_layout_provenance_run_truth.py", "tests/test_layout_provenance_train_truth.py",
         "tests/test_notebook_train_bar_truth.py", "tests/test_did_you_mean_truth.py", "tests/test_export_observables_truth.py",
         "tests/test_cli_early_refusals.py",
         "tests/test_audit_cli_leftovers.py", "tests/cost/test_onnx_batch_axis_truth.py",
         "tests/test_edge_int8_truth.py"],
    ),
    "hqnn-space": (
        ["src/quarch/spaces/hqnn/model.py", "src/quarch/spaces/hqnn/costs.py",
         "src/quarch/spaces/hqnn/space.py"],
        ["tests/spaces/hqnn/test_space_truth.py", "tests/spaces/hqnn/test_cz_once_truth.py",
         "tests/spaces/hqnn/test_model_truth.py",
         "tests/test_layout_provenance_record_truth.py", "tests/test_layout_provenance_run_truth.py",
         "tests/spaces/hqnn/test_costs_truth.py", "tests/spaces/hqnn/test_space.py",
         "tests/spaces/hqnn/test_supercircuit_truth.py",
         "tests/spaces/hqnn/test_model.py::TestCorrectness",
         "tests/spaces/hqnn/test_model.py::TestInputs",
         "tests/spaces/hqnn/test_model.py::test_amplitude_reads_power_of_two_features",
         "tests/spaces/hqnn/test_embeddings.py", "tests/spaces/hqnn/test_tied_layers.py",
         "tests/spaces/hqnn/test_supercircuit.py", "tests/spaces/hqnn/test_device.py",
         "tests/spaces/hqnn/test_noisy_scoring_truth.py",
         "tests/spaces/hqnn/test_record_epochs.py", "tests/spaces/hqnn/test_evaluator.py",
         "tests/spaces/test_contract.py", "tests/spaces/test_option_lists.py",
         "tests/spaces/test_used_params.py", "tests/spaces/test_evaluator_dtypes_truth.py",
         "tests/test_layout_provenance_train_truth.py", "tests/test_layout_provenance_mutants_truth.py"],
    ),
    "cli-config": (
        ["src/quarch/config.py", "src/quarch/_paths.py", "src/quarch/_errors.py",
         "src/quarch/_cli_app.py", "src/quarch/_cli_finish.py", "src/quarch/_cli_lists.py",
         "src/quarch/_cli_search.py", "src/quarch/cli.py", "src/quarch/_run_files.py"],
        ["tests/test_config_truth.py", "tests/test_cli_truth.py", "tests/test_config.py",
         "tests/study/test_parallel_join_truth.py",
         "tests/test_did_you_mean_truth.py", "tests/test_cli_user_path_truth.py",
         "tests/test_edge_int8_truth.py::test_the_export_says_when_its_weights_are_seven_bit",
         "tests/test_cli_piped_output.py::test_a_narrow_console_keeps_the_names_whole_in_process",
         "tests/test_cli_early_refusals.py::test_a_mistyped_name_never_reaches_the_search",
         "tests/test_cli_early_refusals.py::test_a_folder_that_is_not_a_run_never_reaches_the_reader",
         "tests/test_output_paths.py", "tests/test_export_path_blank_truth.py",
         "tests/test_cli_mistakes.py::test_search_mistake",
         "tests/test_cli_mistakes.py::test_a_misspelt_key_is_named_with_the_likely_one",
         "tests/test_cli_mistakes.py::test_a_blank_out_is_refused_not_taken_for_the_working_folder",
         "tests/test_cli_mistakes.py::test_a_blank_ray_address_is_refused_not_run_without_ray",
         "tests/test_cli_mistakes.py::test_a_config_file_with_a_byte_order_mark",
         "tests/test_cli_mistakes.py::test_version",
         "tests/test_cli_mistakes.py::test_mistake_on_a_run",
         "tests/test_cli_mistakes.py::test_a_ctrl_c_inside_an_import_is_not_reported",
         "tests/test_cli.py::TestErrors::test_one_line_and_exit_2",
         "tests/test_cli.py::test_config_file_errors",
         "tests/test_cli.py::test_dry_run_checks_everything_and_writes_nothing",
         "tests/test_cli.py::test_resume_accepts_what_the_api_allows",
         "tests/test_untrusted_input.py::test_config_files_of_random_keys_and_values",
         "tests/test_untrusted_input.py::test_config_files_of_any_text",
         "tests/test_cli_exit_truth.py",
         "tests/test_interrupts_truth.py::test_a_ctrl_c_python_drops_in_a_callback_still_stops_the_command",
         "tests/test_audit_cli_leftovers.py",
         "tests/test_pruner_leftovers_truth.py", "tests/test_run_files_sqlite_uri_truth.py",
         "tests/test_cli_user_audit_truth.py",
         "tests/test_cli_run_label_truth.py",
         "tests/test_notebook_tracebacks_truth.py", "tests/test_notebook_tracebacks_mutants_truth.py"],
    ),
    "hqnn-extras": (
        ["src/quarch/spaces/hqnn/supercircuit.py", "src/quarch/spaces/hqnn/noise.py",
         "src/quarch/spaces/hqnn/bench.py"],
        ["tests/spaces/hqnn/test_supercircuit_sharing_truth.py",
         "tests/spaces/hqnn/test_noise_truth.py", "tests/spaces/hqnn/test_bench_truth.py",
         "tests/spaces/hqnn/test_supercircuit_truth.py",
         "tests/spaces/hqnn/test_supercircuit.py::TestCorrectness::test_extract_computes_the_same_function",
         "tests/spaces/hqnn/test_supercircuit.py::TestCorrectness::test_layers_share_weights",
         "tests/spaces/hqnn/test_supercircuit.py::TestDefaults",
         "tests/spaces/hqnn/test_noisy_scoring_truth.py",
         "tests/spaces/hqnn/test_bench.py::test_the_file_matches_its_recorded_checksum",
         "tests/spaces/hqnn/test_bench.py::test_the_rows_cover_the_declared_sub_space_exactly_once_per_data_set_and_seed",
         "tests/spaces/hqnn/test_bench.py::test_the_task_signal_oracle_and_judge_come_from_the_rows",
         "tests/spaces/hqnn/test_bench.py::test_the_small_task_judges_parameters_under_the_accuracy_floor",
         "tests/spaces/hqnn/test_bench.py::test_a_changed_or_incomplete_table_is_refused",
         "tests/spaces/hqnn/test_device.py::TestSpec"],
    ),
    "benchmark-harness": (
        ["src/quarch/benchmark/_harness.py", "src/quarch/benchmark/_journal.py",
         "src/quarch/benchmark/_run.py",
         "src/quarch/benchmark/_tasks.py", "src/quarch/_registry.py", "src/quarch/spaces/_spec.py"],
        ["tests/test_benchmark_harness_truth.py", "tests/test_registry_truth.py",
         "tests/test_benchmark_software_truth.py",
         "tests/test_benchmark_resume_truth.py", "tests/test_cli_user_audit_truth.py",
         "tests/test_benchmark_lost_worker_truth.py", "tests/test_benchmark_other_settings_truth.py",
         "tests/test_registries.py", "tests/test_benchmark.py::TestQubo",
         "tests/test_benchmark.py::TestInputs",
         "tests/test_benchmark.py::TestUserTask::test_module_function_resolution_and_errors",
         "tests/test_benchmark.py::TestUserTask::test_factory_must_return_a_task",
         "tests/test_benchmark.py::TestSkippedBeforeTraining",
         "tests/test_benchmark_costs.py::test_training_time_to_target_is_the_sum_over_the_queries_before_it",
         # what a forked worker is given, called in the test process where mutmut sees it
         "tests/test_benchmark_interrupt.py::test_a_worker_set_up_in_this_process",
         "tests/test_benchmark_spawn_interrupt_truth.py::test_the_pool_is_made_while_the_fork_and_exec_ignores_ctrl_c",
         "tests/test_benchmark_failed_trials_truth.py",
         "tests/spaces/test_option_lists.py",
         "tests/test_audit_cli_leftovers.py",
         "tests/test_spec_options_leftovers_truth.py",
         "tests/test_benchmark_start_method_truth.py::test_the_guard_is_asked_only_for_worker_processes_that_import_the_script",
         "tests/test_benchmark_start_method_truth.py::test_the_start_method_is_asked_without_fixing_it",
         "tests/test_benchmark_start_method_truth.py::test_a_strategy_registered_under_the_guard_is_named_in_spawned_workers",
         "tests/test_benchmark_start_method_truth.py::test_the_guard_asks_whether_workers_can_import_the_main_script",
         "tests/test_benchmark_skip_cap_truth.py", "tests/test_benchmark_pool_end_truth.py",
         "tests/test_benchmark_old_journal_truth.py",
         "tests/study/test_parallel_main_module_truth.py::test_a_benchmark_from_standard_input_is_refused_in_one_line",
         "tests/test_notebook_benchmark_bar_truth.py::test_in_a_kernel_the_benchmark_bar_is_one_line_that_ends_at_every_run"],
    ),
    "evaluators": (
        ["src/quarch/spaces/hqnn/evaluator.py", "src/quarch/spaces/cnn/evaluator.py",
         "src/quarch/spaces/nb201/evaluator.py", "src/quarch/spaces/nb201/tasks.py",
         "src/quarch/evaluate/task.py", "src/quarch/evaluate/_base.py"],
        ["tests/spaces/hqnn/test_evaluator_truth.py", "tests/spaces/cnn/test_evaluator_truth.py",
         "tests/spaces/nb201/test_evaluator_truth.py", "tests/spaces/nb201/test_evaluator.py",
         "tests/spaces/hqnn/test_evaluator.py",
         "tests/spaces/hqnn/test_record_epochs.py::test_the_evaluator_returns_every_fidelity",
         "tests/spaces/hqnn/test_record_epochs.py::test_the_spec_refuses_bad_record_epochs",
         "tests/spaces/cnn/test_evaluator.py::TestInputs",
         "tests/spaces/cnn/test_evaluator.py::TestEvaluators",
         "tests/spaces/test_evaluator_dtypes_truth.py"],
    ),
    "data": (
        ["src/quarch/data/_dataset.py", "src/quarch/data/_idx.py", "src/quarch/data/_mnist.py",
         "src/quarch/data/_transforms.py"],
        ["tests/data/test_idx.py", "tests/data/test_idx_truth.py",
         "tests/data/test_dataset.py", "tests/data/test_dataset_truth.py",
         "tests/data/test_mnist.py", "tests/data/test_mnist_truth.py",
         "tests/data/test_transforms.py", "tests/data/test_transforms_truth.py",
         "tests/data/test_listing.py::test_good_files_are_available",
         "tests/data/test_listing.py::test_a_truncated_file_is_not_available",
         "tests/data/test_listing.py::test_an_unpacked_file_of_the_wrong_length",
         "tests/data/test_listing.py::test_a_data_folder_that_is_a_file_is_refused_at_once"],
    ),
    "study-workers": (
        ["src/quarch/study/_worker.py", "src/quarch/study/_signals.py",
         "src/quarch/study/_skips.py"],
        ["tests/study/test_worker_truth.py", "tests/study/test_result_records.py",
         "tests/test_budget_skips_truth.py", "tests/test_benchmark_skip_cap_truth.py",
         "tests/study/test_signals_truth.py", "tests/study/test_worker_listings_truth.py",
         "tests/test_interrupts_truth.py::test_a_signal_while_a_trial_is_asked_fails_that_trial_as_interrupted",
         "tests/test_interrupts_truth.py::test_a_resumed_run_with_a_trial_nobody_owns_reaches_its_budget"],
    ),
    "search-registry": (
        ["src/quarch/search/__init__.py"],
        ["tests/search/test_registry_truth.py", "tests/search/test_strategy_options.py",
         "tests/search/test_strategy_listing.py", "tests/search/test_strategies.py::TestRegistry",
         "tests/test_registries.py", "tests/test_registry_truth.py",
         "tests/test_recipes_options_truth.py"],
    ),
    "space-specs": (
        ["src/quarch/spaces/__init__.py", "src/quarch/spaces/cnn/__init__.py",
         "src/quarch/spaces/hqnn/__init__.py", "src/quarch/spaces/mlp/__init__.py",
         "src/quarch/spaces/nb201/__init__.py"],
        ["tests/spaces/test_specs_truth.py", "tests/test_registry_truth.py",
         "tests/test_registries.py", "tests/spaces/test_used_params.py",
         "tests/test_layout_provenance_record_truth.py", "tests/test_layout_provenance_run_truth.py",
         "tests/spaces/test_option_lists.py", "tests/spaces/hqnn/test_device.py::TestSpec",
         "tests/spaces/hqnn/test_record_epochs.py::test_the_spec_refuses_bad_record_epochs",
         "tests/test_cli_mistakes.py::test_search_mistake", "tests/spaces/test_contract.py",
         "tests/test_audit_cli_leftovers.py",
         "tests/test_layout_provenance_train_truth.py", "tests/test_layout_provenance_mutants_truth.py"],
    ),
    "testing-kit": (
        ["src/quarch/testing/__init__.py", "src/quarch/testing/aer.py",
         "src/quarch/testing/evaluator_checks.py", "src/quarch/testing/evaluators.py",
         "src/quarch/testing/strategies.py", "src/quarch/testing/devices.py"],
        ["tests/test_testing_kit_truth.py", "tests/test_testing_kit_files_truth.py",
         "tests/cost/test_device_costs.py::TestNoiseAgainstAer",
         "tests/test_recipes_device_checks_truth.py"],
    ),
    # test_parallel.py's tests that spawn workers through the CLI stay out: under mutmut a
    # spawned child re-runs mutmut's own script (test_parallel_truth's `spawnable` avoids it)
    "study-parallel": (
        ["src/quarch/study/_parallel.py", "src/quarch/study/_ray.py",
         "src/quarch/study/_worker_stops.py"],
        ["tests/study/test_parallel_truth.py", "tests/study/test_parallel_start_truth.py",
         "tests/study/test_parallel_start_failure_truth.py",
         "tests/study/test_parallel_join_truth.py",
         "tests/study/test_parallel.py::test_ray_and_workers_conflict",
         "tests/study/test_parallel.py::test_an_unreachable_ray_address_is_one_line_before_the_data",
         "tests/study/test_parallel.py::test_ray_that_cannot_start_leaves_no_run_folder",
         "tests/study/test_parallel.py::test_ray_missing_is_refused_before_the_data",
         "tests/test_cli_mistakes.py::test_more_workers_than_cores_run_with_one_warning",
         "tests/test_cli_mistakes.py::test_workers_beyond_the_work_are_not_started",
         "tests/study/test_pruning.py::test_spawned_workers_use_the_runs_pruner",
         "tests/study/test_loop_truth.py::test_a_qubo_search_never_proposes_a_cell_known_to_break_a_budget",
         "tests/study/test_main_guard_truth.py",
         "tests/test_notebook_workers_truth.py::test_an_evaluator_that_cannot_be_pickled_is_refused_in_one_line",
         "tests/test_notebook_workers_truth.py::test_a_space_defined_in_the_session_is_refused_before_anything_is_written",
         "tests/test_notebook_workers_truth.py::test_a_script_read_from_stdin_is_refused_before_anything_is_written",
         "tests/test_notebook_sent_registrations_truth.py::test_quarch_s_own_space_and_strategy_are_not_sent",
         "tests/test_notebook_sent_registrations_truth.py::test_the_user_s_registrations_are_sent_and_registered_again",
         "tests/test_notebook_sent_registrations_truth.py::test_what_cannot_be_pickled_or_loaded_is_left_to_the_worker_s_imports",
         "tests/test_notebook_sent_registrations_truth.py::test_run_workers_hands_them_to_each_worker_which_registers_them",
         "tests/test_budget_skips_truth.py",
         "tests/test_ray_skips_heard_truth.py::test_ray_hears_each_skipped_and_failed_trial_as_the_serial_loop",
         "tests/test_ray_skips_heard_truth.py::test_the_skip_warning_comes_between_the_skips_heard_and_the_give_up_after_them",
         "tests/test_ray_skips_heard_truth.py::test_a_failure_before_ray_is_heard_before_the_run_gives_up_failing",
         "tests/test_ray_skips_heard_truth.py::test_a_run_of_skips_stops_at_the_timeout",
         "tests/study/test_parallel_main_module_truth.py",
         "tests/study/test_parallel_plugins_truth.py",
         "tests/study/test_parallel_sendable_truth.py"],
    ),
    "notebook-display": (["src/quarch/study/_display.py"], ["tests/test_notebook_display_truth.py"]),
    "layout-provenance": (["src/quarch/spaces/hqnn/provenance.py", "src/quarch/cost/routed_layout.py"], ["tests/test_layout_provenance_record_truth.py", "tests/test_layout_provenance_run_truth.py", "tests/test_layout_provenance_train_truth.py", "tests/test_layout_provenance_mutants_truth.py"]),
    "software": (
        ["src/quarch/_software.py"],
        ["tests/test_software_truth.py", "tests/test_benchmark_software_truth.py"],
    ),
}  # fmt: skip


#: Functions a module calls while it is imported (they build its tables). mutmut forks
#: each mutant's tests from a process that imported the module with the original code,
#: so their mutants never take effect there; they are run again each in a fresh process
#: (``MUTANT_UNDER_TEST`` set before the import), where a failing test kills them.
IMPORT_TIME: dict[str, tuple[str, ...]] = {
    "gates-templates": (
        "quarch.quantum.gates.x__controlled__", "quarch.quantum.gates.x__ctrl__",
        "quarch.quantum.gates.x__perm_matrix__",
    ),
}  # fmt: skip


def _fresh_kills(work: Path, names: list[str], tests: list[str], env: dict[str, str]) -> set[str]:
    """The ``names`` whose tests fail in a fresh process with the mutant active from the
    start: pytest's exit code 1 (a test failed) or 2 (the mutant broke the import, so
    collection failed). The same command without a mutant must pass first; when it does
    not, nothing is counted and the reason is printed."""

    def pytest(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             "-p", "no:randomly", *tests],
            cwd=work / "mutants", capture_output=True, text=True,
            env={**env, "MUTANT_UNDER_TEST": name, "PYTHONPATH": "src"},
        )  # fmt: skip

    if not names:
        return set()
    clean = pytest("")
    if clean.returncode != 0:
        print(f"   fresh-process check skipped: the tests fail without a mutant "
              f"(exit {clean.returncode}): {clean.stdout[-500:]}")  # fmt: skip
        return set()
    return {name for name in names if pytest(name).returncode in (1, 2)}


#: A listing's pin: ``@`` and 8 hex digits of the SHA-256 of its mutant's diff (``pin_of``).
PIN = re.compile(r"@([0-9a-f]{8})")


class Listing(NamedTuple):
    """One line of ``mutation_equivalent.txt``: the pin (``None``: unpinned), the reason,
    and the line's number in the file (1-based)."""

    pin: str | None
    reason: str
    line: int


def read_listings(path: Path | None = None) -> dict[str, Listing]:
    """``{mutant name: Listing}`` from the committed list. Blank lines and ``#`` lines are
    skipped; a line is ``NAME  @PIN  # reason`` or, unpinned, ``NAME  # reason``. A line of
    another shape, or a name listed twice, is an error (``ValueError`` naming the line)."""
    path = path or EQUIVALENT_FILE
    out: dict[str, Listing] = {}
    if not path.exists():
        return out
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, reason = line.partition("#")
        fields = head.split()
        pin = None
        if len(fields) == 2 and (match := PIN.fullmatch(fields[1])):
            pin = match.group(1)
        elif len(fields) != 1 or "__mutmut_" not in fields[0]:
            raise ValueError(f"{path}:{number}: not `NAME  @PIN  # reason`: {line!r}")
        if fields[0] in out:
            raise ValueError(
                f"{path}:{number}: {fields[0]} listed again (line {out[fields[0]].line})"
            )
        out[fields[0]] = Listing(pin, reason.strip(), number)
    return out


def equivalent_mutants(path: Path | None = None) -> dict[str, str]:
    """``{mutant name: reason}`` from the committed list (pins left out)."""
    return {name: listing.reason for name, listing in read_listings(path).items()}


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff (``mutmut show``'s, or
    ``get_diff_for_mutant``'s), in order, each as its sign and its text with every run of
    whitespace made one space and the ends stripped. The file headers, the ``@@`` line
    numbers and the context lines are left out, so the lines do not change when the
    function changes elsewhere (or moves, or is re-indented)."""
    out: list[str] = []
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line[:1] in ("-", "+"):
            out.append(line[0] + " ".join(line[1:].split()))
    return out


def pin_of(diff: str) -> str:
    """The pin of a mutant's diff: 8 hex digits of the SHA-256 of ``changed_lines(diff)``
    joined by newlines. Two mutants of one function with the same changed lines (the same
    mutation of two equal lines) share a pin."""
    return hashlib.sha256("\n".join(changed_lines(diff)).encode()).hexdigest()[:8]


def group_modules(files: list[str]) -> set[str]:
    """The module names of a group's source files (``src/quarch/x/__init__.py``: ``quarch.x``)."""
    return {".".join(Path(f).with_suffix("").parts[1:]).removesuffix(".__init__") for f in files}


def listing_problems(
    listed: dict[str, Listing],
    diffs: dict[str, str],
    modules: set[str],
    status: dict[str, str] | None = None,
) -> dict[str, str]:
    """``{name: problem}`` for the listings of ``modules`` that cannot count as equivalent.

    ``diffs`` is today's ``{mutant: diff}`` of those modules; ``status`` a run's verdicts
    (``None``: no tests were run). The problems: ``"no such mutant"`` (its function changed
    and mutmut renumbered it, or it was renamed or removed), ``"killed"``/``"timeout"`` (the
    tests tell it apart), ``"diff changed"`` (the name now names a mutant other than the one
    whose diff the reason was read against: mutmut numbers a function's mutants afresh when
    it changes), ``"unpinned"`` (nobody has pinned the reason to a diff). Every listing of
    these modules not named here is honoured."""
    out: dict[str, str] = {}
    for name, listing in listed.items():
        if _module(name) not in modules:
            continue
        if name not in diffs or (status is not None and name not in status):
            out[name] = "no such mutant"
        elif status is not None and status[name] in ("killed", "timeout"):
            out[name] = status[name]
        elif listing.pin is None:
            out[name] = "unpinned"
        elif listing.pin != pin_of(diffs[name]):
            out[name] = "diff changed"
    return out


def listed_equivalents(
    status: dict[str, str], listed: dict[str, Listing], files: list[str], diffs: dict[str, str]
) -> tuple[set[str], dict[str, str]]:
    """The listed equivalents this run honours, and the problems of the other listings of
    its modules (``listing_problems``): only a surviving (or untested) mutant whose diff is
    the one its listing is pinned to counts as equivalent. The others are printed so that
    a rewritten function's listings are re-read instead of hiding mutants."""
    modules = group_modules(files)
    problems = listing_problems(listed, diffs, modules, status)
    honoured = {n for n in listed if _module(n) in modules and n not in problems}
    return honoured, problems


#: Run in a mutmut work folder (``cwd``): generate the mutants when argv[2] is "1" (no
#: tests run: seconds to a minute), then write ``{mutant: mutmut's diff}`` to argv[1], of
#: the mutants whose name or function (the name without ``__mutmut_N``) is in the JSON list
#: argv[3] (all when it is ``null``; a diff takes about 0.02 s). A process of its own, since
#: mutmut keeps its configuration in globals of the process.
_DIFFS = """
import json, sys
from pathlib import Path
import mutmut.__main__ as mm
if sys.argv[2] == "1":
    mm.create_mutants(1)
from mutmut.mutation.diff_apply import get_diff_for_mutant
keys = json.loads(sys.argv[3])
keys = None if keys is None else set(keys)
out = {}
for meta in sorted(Path("mutants").rglob("*.py.meta")):
    path = str(meta.relative_to("mutants"))[: -len(".meta")]
    for name in json.loads(meta.read_text()).get("exit_code_by_key", {}):
        if keys is None or name in keys or name.rsplit("__mutmut_", 1)[0] in keys:
            out[name] = get_diff_for_mutant(name, path=path)
Path(sys.argv[1]).write_text(json.dumps(out))
"""


def mutant_diffs(work: Path, *, generate: bool, only: set[str] | None = None) -> dict[str, str]:
    """``{mutant: diff}`` of the mutants in a work folder (``_prepare``'s), by mutmut's own
    ``get_diff_for_mutant``; ``generate``: make the mutants first (no tests run); ``only``:
    just these mutants and the mutants of these functions (names without ``__mutmut_N``)."""
    out = work / "diffs.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    keys = json.dumps(None if only is None else sorted(only))
    proc = subprocess.run(
        [sys.executable, "-c", _DIFFS, str(out), "1" if generate else "0", keys], cwd=work,
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"error: mutmut's diffs in {work} failed:\n{proc.stderr[-3000:]}")
    diffs: dict[str, str] = json.loads(out.read_text())
    return diffs


def listing_diffs(
    work: Path, listed: dict[str, Listing], modules: set[str], *, generate: bool
) -> dict[str, str]:
    """Today's diffs of the listed mutants of ``modules``, and of every mutant of the
    functions whose pinned listing's diff changed or is gone (where it may have moved)."""
    mine = {n for n in listed if _module(n) in modules}
    diffs = mutant_diffs(work, generate=generate, only=mine)
    moved = {
        _function_key(n)
        for n in mine
        if listed[n].pin and listed[n].pin != pin_of(diffs.get(n, ""))
    }
    if moved:
        diffs.update(mutant_diffs(work, generate=False, only=moved))
    return diffs


def _file_of(module: str) -> str:
    """``src/quarch/x.py`` (or ``src/quarch/x/__init__.py``) of module ``quarch.x``."""
    path = "src/" + module.replace(".", "/")
    return path + ".py" if (ROOT / (path + ".py")).exists() else path + "/__init__.py"


def _indented(diff: str) -> str:
    return "\n".join("              " + ln for ln in changed_lines(diff))


def print_problems(
    problems: dict[str, str], listed: dict[str, Listing], diffs: dict[str, str]
) -> None:
    """One line per problem, with today's changed lines where the mutant exists; for a
    changed diff, the mutants of the same function that have the pinned diff today (a
    renumbered listing: ``--check-listings --renumber`` moves it when there is one)."""
    for name, problem in sorted(problems.items()):
        listing = listed[name]
        if problem == "unpinned":
            print(f"   unpinned listing: {name}  # {listing.reason}")
        else:
            print(f"   stale listing ({problem}): {name}  # {listing.reason}")
        if problem == "diff changed" or (problem == "no such mutant" and listing.pin):
            moved = _same_pin_elsewhere(name, listing, diffs)
            if moved:
                print(f"      the pinned diff @{listing.pin} is now: {', '.join(moved)}")
        if name in diffs:
            print("      today's diff:")
            print(_indented(diffs[name]))


def _function_key(name: str) -> str:
    return name.rsplit("__mutmut_", 1)[0]


def _same_pin_elsewhere(name: str, listing: Listing, diffs: dict[str, str]) -> list[str]:
    key = _function_key(name)
    return sorted(
        (n for n, d in diffs.items() if _function_key(n) == key and n != name
         and pin_of(d) == listing.pin),
        key=lambda n: int(n.rsplit("_", 1)[1]),
    )  # fmt: skip


def _moved_references(reason: str, moved: dict[str, str]) -> str:
    """``reason`` with each ``_N`` (a mutant of the listing's own function, as in ``same
    as _17``; not the ``_1`` of a name like ``x__mutmut_1``) renumbered by ``moved``."""
    return re.sub(r"(?<![\w.])_(\d+)\b", lambda m: "_" + moved.get(m.group(1), m.group(1)), reason)


def rewrite_listings(changes: dict[str, tuple[str, str]], path: Path | None = None) -> None:
    """Write ``changes`` (``{listed name: (new name, pin)}``) into the list, each line as
    ``NAME  @PIN  # reason``. A reason that names a moved mutant of its own function
    (``same as _17``) is made to name it by its new number, whether its own listing moved
    or not; every other line is kept as it is."""
    path = path or EQUIVALENT_FILE
    listed = read_listings(path)
    lines = path.read_text().split("\n")
    moves: dict[str, dict[str, str]] = {}  # function -> {old number: new number}
    for name, (new, _) in changes.items():
        function, number = name.rsplit("__mutmut_", 1)
        moves.setdefault(function, {})[number] = new.rsplit("__mutmut_", 1)[1]
    for name, listing in listed.items():
        reason = _moved_references(listing.reason, moves.get(name.rsplit("__mutmut_", 1)[0], {}))
        if name in changes or reason != listing.reason:
            new, pin = changes.get(name, (name, listing.pin or ""))
            lines[listing.line - 1] = f"{new}{f'  @{pin}' if pin else ''}  # {reason}"
    path.write_text("\n".join(lines))


def renumbered(
    problems: dict[str, str], listed: dict[str, Listing], diffs: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """``{stale listing: (new name, pin)}`` for each pinned listing whose diff changed (or
    is gone) and whose pinned diff is exactly one other mutant of its function today, when
    that mutant is not listed, or is listed but moves away itself (a function's mutants
    shifted together); no two listings move to one name."""
    proposed: dict[str, str] = {}
    for name, problem in problems.items():
        if problem in ("diff changed", "no such mutant") and listed[name].pin:
            moved = _same_pin_elsewhere(name, listed[name], diffs)
            if len(moved) == 1:
                proposed[name] = moved[0]
    while True:  # until every move's target is free: not listed, or moving away itself
        targets = list(proposed.values())
        keep = {
            name: new
            for name, new in proposed.items()
            if (new not in listed or new in proposed) and targets.count(new) == 1
        }
        if keep == proposed:
            return {name: (new, str(listed[name].pin)) for name, new in proposed.items()}
        proposed = keep


def check_listings(files: list[str], work: Path, *, renumber: bool = False) -> int:
    """Generate the mutants of ``files`` (no tests run) and print every listing of their
    modules that is stale (no such mutant, or the diff changed) or unpinned; with
    ``renumber``, the stale listings that ``renumbered`` finds are moved to their mutants'
    names today. The number of problems left."""
    _prepare(work, files, [])
    listed = read_listings()
    diffs = listing_diffs(work, listed, group_modules(files), generate=True)
    problems = listing_problems(listed, diffs, group_modules(files))
    if renumber:
        moves = renumbered(problems, listed, diffs)
        for name, (new, _) in sorted(moves.items()):
            print(f"   renumbered: {name} -> {new}")
            del problems[name]
        rewrite_listings(moves)
        listed = read_listings()
    print_problems(problems, listed, diffs)
    print(f"   {len(diffs)} mutants, {sum(_module(n) in group_modules(files) for n in listed)} "
          f"listings, {len(problems)} stale or unpinned")  # fmt: skip
    return len(problems)


def pin_listings(names: list[str], work: Path) -> int:
    """Pin the listings ``names`` to their mutants' diffs today, printing each diff under
    its reason (what the person pinning must have read); a name not listed, or naming no
    mutant, is refused. The number refused."""
    listed = read_listings()
    refused = [n for n in names if n not in listed]
    for name in refused:
        print(f"   not listed (add `{name}  # reason` first): {name}")
    names = [n for n in names if n in listed]
    if not names:
        return len(refused)
    _prepare(work, sorted({_file_of(_module(n)) for n in names}), [])
    diffs = mutant_diffs(work, generate=True, only=set(names))
    changes = {}
    for name in names:
        if name not in diffs:
            print(f"   no such mutant today: {name}")
            refused.append(name)
            continue
        changes[name] = (name, pin_of(diffs[name]))
        print(f"   pinned @{changes[name][1]}: {name}  # {listed[name].reason}")
        print(_indented(diffs[name]))
    rewrite_listings(changes)
    return len(refused)


def _prepare(work: Path, files: list[str], tests: list[str]) -> None:
    """A scratch project: the sources, the tests and a ``setup.cfg`` for mutmut."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    shutil.copy2(ROOT / "README.md", work / "README.md")  # tests run the README's examples
    shared = ROOT.parent / "shared"
    if shared.is_dir():  # the tests' data (../shared/data), seen from mutmut's copy
        (work / "shared").symlink_to(shared)

    def lines(items: list[str]) -> str:
        return "".join(f"\n    {x}" for x in items)

    (work / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = src\nalso_copy =\n    README.md\n"
        f"only_mutate ={lines(files)}\n"
        f"pytest_add_cli_args_test_selection ={lines(tests)}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x\n    -q\n"
    )


def _statuses(work: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], cwd=work, env=env, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    res = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            res[name] = status
    return res


def _module(mutant: str) -> str:
    """``quarch.quantum.qasm`` of ``quarch.quantum.qasm.x_to_qasm__mutmut_3``."""
    return re.split(r"\.x[_\u01c1]", mutant, maxsplit=1)[0]


def mutated_function(mutant: str) -> tuple[str, str]:
    """``("quarch.search._qiea", "QIEASampler._propose")`` of
    ``quarch.search._qiea.xǁQIEASamplerǁ_propose__mutmut_44`` (mutmut's own naming)."""
    module = _module(mutant)
    mangled = re.sub(r"__mutmut_\d+$", "", mutant[len(module) + 2 :])
    if mangled.startswith("_"):  # a function: x_ + its name
        return module, mangled[1:]
    return module, ".".join(part for part in mangled.split("\u01c1") if part)


def run_group(
    group: str, *, children: int, work: Path, diffs: bool, run: bool = True
) -> dict[str, object]:
    """Run mutmut on one group and print its score and survivors (``run=False``: only
    report the last run in ``work`` again, e.g. after listing equivalent mutants)."""
    files, tests = GROUPS[group]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", "1")
    # mutmut forks each mutant's pytest from a process whose tests ran Qiskit's
    # transpiler: its Rust thread pool does not survive a fork, and a forked transpile
    # hangs until mutmut's timeout, which counts as a kill. Serial Qiskit cannot hang.
    env["QISKIT_IN_PARALLEL"] = "TRUE"
    t0 = time.perf_counter()
    if run:
        _prepare(work, files, tests)
        proc = subprocess.run(
            ["mutmut", "run", "--max-children", str(children)], cwd=work, env=env,
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    elif not (work / "mutants").is_dir():
        raise SystemExit(f"error: no mutmut run in {work}; run without --report-only first")
    status = _statuses(work, env)
    fresh_file = work / "fresh_kills.json"
    if run or not fresh_file.exists():
        prefixes = IMPORT_TIME.get(group, ())
        late = [n for n, st in status.items() if st != "killed" and n.startswith(prefixes)]
        fresh_file.write_text(json.dumps(sorted(_fresh_kills(work, late, tests, env))))
    fresh = set(json.loads(fresh_file.read_text())) if fresh_file.exists() else set()
    status.update({n: "killed" for n in fresh if n in status})
    seconds = time.perf_counter() - t0
    listed = read_listings()
    today = listing_diffs(work, listed, group_modules(files), generate=False)
    equivalent, problems = listed_equivalents(status, listed, files, today)
    counts = Counter("equivalent" if name in equivalent else s for name, s in status.items())
    considered = sum(n for s, n in counts.items() if s != "equivalent")
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    score = killed / considered if considered else float("nan")
    print(f"\n== {group}: {', '.join(files)}")
    print(f"   tests: {' '.join(tests)}")
    print(f"   mutants {len(status)}: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
    if fresh:
        print(f"   of the killed, {len(fresh)} in a fresh process (import-time functions)")
    print(f"   score {100 * score:.1f} % ({killed} of {considered} non-equivalent killed) "
          f"in {seconds:.0f} s")  # fmt: skip
    for module in sorted({_module(n) for n in status}):
        mine = {n: s for n, s in status.items() if _module(n) == module}
        k = sum(s in ("killed", "timeout") for n, s in mine.items() if n not in equivalent)
        c = sum(n not in equivalent for n in mine)
        print(f"     {module}: {100 * k / c if c else float('nan'):.1f} % ({k} of {c})")
    left = sorted(
        n for n, s in status.items() if s not in ("killed", "timeout") and n not in equivalent
    )
    print_problems(problems, listed, today)
    for name in left:
        print(f"   {status[name]:>10}  {name}")
        if diffs:
            diff = subprocess.run(["mutmut", "show", name], cwd=work, env=env,
                                  capture_output=True, text=True).stdout  # fmt: skip
            print("\n".join("              " + ln for ln in diff.splitlines()[1:]))
    return {"group": group, "score": score, "counts": dict(counts), "survivors": left}


def _listings_main(args: argparse.Namespace, base: Path) -> int:
    """--check-listings, --pin, --pin-unpinned (no tests run)."""
    if args.pin:
        return 1 if pin_listings(args.pin, base / "pin") else 0
    files = sorted({f for g in (GROUPS if args.module == "all" else [args.module])
                    for f in GROUPS[g][0]})  # fmt: skip
    if args.pin_unpinned:
        modules = group_modules(files)
        names = [n for n, ls in read_listings().items() if ls.pin is None and _module(n) in modules]
        print(f"== pinning {len(names)} unpinned listings of {args.module}")
        return 1 if pin_listings(names, base / "pin") else 0
    shown = f"{len(files)} files" if args.module == "all" else ", ".join(files)
    print(f"== listings of {args.module}: {shown}")
    work = base / ("listings" if args.module == "all" else f"{args.module}.listings")
    problems = check_listings(files, work, renumber=args.renumber)
    if args.module == "all":
        modules = group_modules(files)
        orphans = sorted(n for n in read_listings() if _module(n) not in modules)
        for name in orphans:
            print(f"   listing of a module in no group: {name}")
        problems += len(orphans)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module", choices=[*GROUPS, "all"], help="group to mutate (or check)")
    p.add_argument("--children", type=int, default=2, help="parallel mutant runs (default 2)")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (outside the checkout)")
    p.add_argument("--diffs", action="store_true", help="print each survivor's diff")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="report the last run in --work again, without running mutmut",
    )
    p.add_argument(
        "--check-listings",
        action="store_true",
        help="print the group's stale and unpinned listings (no tests run); exit 1 if any",
    )
    p.add_argument(
        "--renumber",
        action="store_true",
        help="with --check-listings: move a stale listing to the one unlisted mutant "
        "of its function that has its pinned diff today",
    )
    p.add_argument(
        "--pin",
        nargs="+",
        metavar="NAME",
        help="pin these listings to their diffs today (printed: read them)",
    )
    p.add_argument(
        "--pin-unpinned",
        action="store_true",
        help="pin every unpinned listing of --module (each diff printed: read them)",
    )
    args = p.parse_args(argv)
    if args.module is None and not args.pin:
        p.error("--module is required (except with --pin)")
    if shutil.which("mutmut") is None:
        print("error: mutmut is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    base = args.work or Path(tempfile.gettempdir()) / "quarch-mutation"
    if args.check_listings or args.pin or args.pin_unpinned:
        return _listings_main(args, base)
    groups = list(GROUPS) if args.module == "all" else [args.module]
    results = [
        run_group(
            g, children=args.children, work=base / g, diffs=args.diffs, run=not args.report_only
        )
        for g in groups
    ]
    print("\ngroup       score   killed/considered")
    for r in results:
        c = r["counts"]
        assert isinstance(c, dict)
        considered = sum(n for s, n in c.items() if s != "equivalent")
        killed = c.get("killed", 0) + c.get("timeout", 0)
        print(f"{r['group']:<11} {100 * float(r['score']):5.1f} %  {killed}/{considered}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
