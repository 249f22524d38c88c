"""The launcher every engine command starts with: apply resource limits, then exec the engine program.

    python -m jobs.engines.launch --memory-mb 512 --cpu-seconds 60 --processes 1024 -- /bin/bash code.sh

Limits set with setrlimit survive exec, so the engine program and everything it starts inherit them:
``RLIMIT_AS`` caps the address space (allocations beyond it fail with ENOMEM, a MemoryError in Python) and
``RLIMIT_CPU`` sends SIGXCPU at the soft limit and SIGKILL five seconds of CPU later, ``RLIMIT_NPROC`` caps the
processes and threads (in a sandbox: of the job's own user namespace). Zero means no limit.
The process image is replaced, so the exit status and signals are the program's own. Standard library only:
this runs before every job and must start fast.
"""

from __future__ import annotations

import os
import resource
import sys

USAGE = "usage: python -m jobs.engines.launch --memory-mb N --cpu-seconds N --processes N -- program [args...]"
EXEC_FAILED_EXIT = 127  # the shell's status for a command that could not be run


def _set_limit(which: int, soft: int, hard: int) -> None:
    # An unprivileged process cannot raise its hard limit; never ask for more than it already has.
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def parse_args(argv: list[str]) -> tuple[int, int, list[str], int]:
    """Return (memory_mb, cpu_seconds, program_argv, processes) from the launcher's arguments."""
    options = {"--memory-mb": 0, "--cpu-seconds": 0, "--processes": 0}
    i = 0
    while i < len(argv) and argv[i] != "--":
        name = argv[i]
        if name not in options or i + 1 >= len(argv):
            raise ValueError(f"unexpected argument {name!r}")
        try:
            options[name] = int(argv[i + 1])
        except ValueError:
            raise ValueError(f"{name} needs an integer, not {argv[i + 1]!r}") from None
        i += 2
    program = argv[i + 1 :]
    if not program:
        raise ValueError("no program given after --")
    return options["--memory-mb"], options["--cpu-seconds"], program, options["--processes"]


def main(argv: list[str]) -> int:
    """Apply the limits and exec the program; return a status only when that fails."""
    try:
        memory_mb, cpu_seconds, program, processes = parse_args(argv)
    except ValueError as exc:
        print(f"launch: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        _set_limit(resource.RLIMIT_AS, limit, limit)
    if cpu_seconds > 0:
        _set_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5)
    if processes > 0:
        _set_limit(resource.RLIMIT_NPROC, processes, processes)
    sys.stdout.flush()
    try:
        os.execvp(program[0], program)  # noqa: S606 -- running the job program is the point
    except OSError as exc:
        print(f"launch: cannot run {program[0]}: {exc.strerror}", file=sys.stderr)
    return EXEC_FAILED_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
