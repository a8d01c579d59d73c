import {COMMON_FLAGS, CONFIG_FLAG} from '../common-flags.js'
import {command} from '../spec.js'

const spec = command({
  id: 'kill-trace',
  subject: 'TRACE',
  summary: 'Name who sent each signal to a process (SIGKILL too) and explain how it ended: exit 137, the OOM killer, a stop timeout, a human.',
  description: `Runs a command (-- CMD ARGS…) or attaches to one (--pid N, for --duration) and records every signal generated for it and its descendants (--follow-children, on by default), with the sender's pid, comm, user, and — read at event time — its command line and parent chain.

The source is the kernel's signal/signal_generate tracepoint, in a private tracefs instance that is removed on every exit path, Ctrl+C included (root; tracefs is mounted if needed). Without it, strace: it sees who sent a catchable signal (si_pid), but never who sent a SIGKILL — said plainly in the result.

At the end, an explanation, not a dump: how the target ended (137 = 128 + 9: SIGKILL), who sent the fatal signal, and the known causes checked for evidence: medic guard (its own record of why: "medic guard, memory 93 % > 88 % for 3 samples"), the kernel OOM killer (kernel log lines for the pid, the memory cgroup's oom_kill counter; "in its own cgroup" when the target has a memory cgroup of its own, as medic isolate and run-dev-safe --memory-max give it), earlyoom / systemd-oomd, a supervisor's stop timeout (TERM then KILL from the same sender: systemd, docker stop, PM2, supervisord), a human at a shell. Per-signal counts by sender.

TRACE_OK        ended normally, or still running at the end of --duration with no fatal signal
TRACE_ALERT     killed by a signal: the sender, or the most likely cause with its evidence
TRACE_UNKNOWN   could not trace, and why

The traced command's stdout and stderr go to stderr, so stdout stays the verdict.`,
  examples: [
    '<%= config.bin %> <%= command.id %> -- bash scripts/recovery/03_run_500_cycles_no_timeout.sh',
    '<%= config.bin %> <%= command.id %> --pid 4242 --duration 10m -v',
    '<%= config.bin %> <%= command.id %> --tracer strace -- pytest -x   # not root',
  ],
  flags: {
    pid: {type: 'integer', min: 2, description: 'Attach to this process instead of running a command.'},
    duration: {type: 'duration', description: 'Stop tracing after this long (attach mode: default until the process ends).'},
    'follow-children': {type: 'boolean', allowNo: true, default: true, description: "Also record signals to the target's descendants."},
    tracer: {type: 'enum', options: ['auto', 'tracefs', 'strace'], default: 'auto', description: 'tracefs (root, sees every sender) or strace (no root needed, blind to SIGKILL senders).'},
    config: CONFIG_FLAG,
    ...COMMON_FLAGS,
  },
  rest: {name: 'cmd', description: 'the command to run and trace, with its arguments exactly as given', required: false},
  async run({parsed, stderr}) {
    const f = parsed.flags
    const {UsageError} = await import('../parse.js')
    const pid = f.pid ?? null
    if ((pid === null) === (parsed.rest.length === 0)) throw new UsageError('give either --pid N or -- CMD [ARGS...]')
    const [{killTrace}, {makeGate}, {procTable}, {systemClock}, {processSignalHub}, {tracer}, {jobSpawner}, {readGuardActions}, {stateLayout, guardRecordLayouts}] = await Promise.all([
      import('../../ops/kill-trace.js'), import('../../deps.js'), import('../../sys/proc-table.js'), import('../../sys/clock.js'), import('../../sys/signal-hub.js'), import('../../sys/tracer.js'), import('../../sys/spawn-job.js'),
      import('../../sys/guard-store.js'), import('../../sys/state-layout.js'),
    ])
    // medic guard's records: in this state dir and a root guard's (the usual default).
    const readers = guardRecordLayouts(stateLayout(f['state-dir']))
    const {verdict} = await killTrace({command: parsed.rest.length ? parsed.rest : null, pid, durationMs: f.duration ?? null, followChildren: f['follow-children'] !== false, backend: f.tracer}, {
      procs: procTable, gate: await makeGate({stateDir: f['state-dir'], config: f.config}), clock: systemClock, signals: processSignalHub, tracer, spawner: jobSpawner, progress: stderr,
      guardActions: (since) => readGuardActions(readers, since),
    })
    return verdict
  },
})

export default spec
