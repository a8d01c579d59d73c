import {formatMs} from '../core/duration.js'
import {decideRemove, decideWrite, manifestProblems, unifiedDiff, type Manifest, type ManifestFile} from '../core/units-manifest.js'
import {buildPlan, describePlan, type HostFacts, type InnerCommand, type InstallRequest, type Plan, type WritingTarget} from '../core/units-plan.js'
import {findBlock, mergeBlock, mergeWslConf, unmergeWslConf} from '../core/units.js'
import {defang, usageVerdict, type Action, type Check, type Verdict} from '../core/verdict.js'
import type {Clock} from '../sys/clock.js'
import type {InstallFiles, ManifestStore, SystemdCtl, UserCrontab} from '../sys/install-host.js'
import type {LastVerdict} from '../sys/last-verdict.js'
import type {LockManager} from '../sys/lock.js'

export interface InstallDeps {
  files: InstallFiles
  systemd: SystemdCtl
  crontab: UserCrontab
  host: HostFacts
  manifests: ManifestStore
  /** The install lock's manager, or null when the state dir cannot be written (asked only when a lock is taken). */
  locks: () => LockManager | null
  clock: Clock
  progress: (line: string) => void
  lastVerdict: (stateDir: string, commandId: string, subject: string, install?: string) => LastVerdict | null
  cronRunning: () => boolean
  /** Runs a command line once, as cron would (no shell, PATH and the install's environment only). */
  runOnce: (argv: string[], env: Record<string, string>, timeoutMs: number) => Promise<{ok: boolean; detail: string}>
}

export interface InstallInput {
  request: InstallRequest
  inner: InnerCommand | null
  dryRun: boolean
  /** Enable and start what was written (false: enable only, and say how to start). */
  start: boolean
  /** How long the first run of a check may take. */
  firstRunTimeoutMs: number
}

const SUBJECT = 'INSTALL'

interface Step {
  path: string
  text: string
  mode: number
  role: ManifestFile['role']
  action: 'create' | 'update' | 'same' | 'fix'
  before: string | null
  /** fix: how its mode or owner differ from medic's. */
  why?: string
}

/** Takes the install lock, or says who holds it. */
async function locked<T extends Verdict>(deps: InstallDeps, name: string, f: () => Promise<T>, dryRun = false): Promise<Verdict> {
  // A dry run writes nothing at all, not even the state dir or a lock file.
  if (dryRun) return f()
  const locks = deps.locks()
  if (!locks) return {subject: SUBJECT, status: 'UNKNOWN', summary: `the state dir ${deps.host.stateDir} is not writable: medic cannot record what it installs (fail closed)`, checks: [], actions: []}
  const lock = await locks.acquire(`install-${name}`, 10_000, 'install')
  if (!lock.acquired) return {subject: SUBJECT, status: 'UNKNOWN', summary: `another medic (pid ${lock.owner?.pid ?? '?'}) is installing or removing ${name}`, checks: [], actions: []}
  try {
    return await f()
  } finally {
    lock.release()
  }
}

/**
 * `medic install`: plan (pure), refuse anything medic did not write, systemd-analyze verify,
 * write atomically, record a manifest, then daemon-reload, enable, start — and run a
 * check once, so its first verdict is known. Same input twice: nothing rewritten.
 */
export async function install(input: InstallInput, deps: InstallDeps): Promise<Verdict> {
  const planned = buildPlan(input.request, input.inner, deps.host)
  if (!planned.ok) return usageVerdict(SUBJECT, planned.reason)
  const plan = planned.plan
  const base = {subject: SUBJECT, checks: [] as Check[], actions: [] as Action[]}
  const extra = {name: plan.name, unitName: plan.unitName, target: plan.target, kind: plan.kind}
  // A copy-ready line is printed byte for byte or not at all: stdout after line 1 holds no
  // token-like word (callers match tokens anywhere), so one that holds such a word is refused.
  const tokenLike = plan.printed?.map((l) => /[\w.:/-]*[A-Za-z0-9]_(OK|RECOVERED|ALERT|UNKNOWN)(?![A-Za-z0-9])[\w.:/-]*/.exec(l)?.[0]).find(Boolean)
  if (tokenLike) return usageVerdict(SUBJECT, `--target ${plan.target} cannot print ${tokenLike} byte for byte: a status token look-alike (none may follow line 1, and a changed line would differ from what runs); use a target that writes the file (systemd, cron)`)
  if (plan.printed && plan.target === 'docker') {
    return {...base, status: 'OK', printDetails: true, details: plan.printed, extra: {...extra, printed: plan.printed}, summary: `Docker HEALTHCHECK for ${plan.unitName} below: add it to the Dockerfile (nothing written)`}
  }
  if (plan.target === 'print') {
    return {...base, status: 'OK', printDetails: true, details: plan.printed!, extra: {...extra, writes: plan.writes, printed: plan.printed}, summary: `what --target ${plan.writes} would install for ${plan.unitName} (nothing written)`}
  }
  const target = plan.writes!
  if (target === 'systemd' && !deps.host.root) return {...base, status: 'UNKNOWN', extra, summary: '--target systemd writes /etc/systemd/system and needs root; as a user, use --target systemd-user'}
  // Every path goes through the file gate's folder rule (§3.5), judged before anything is written.
  const gated = [
    ...plan.files.map((f) => ({what: f.role === 'rules' ? '--rules-file ' : '', path: f.path, dir: false})),
    ...(plan.wsl ? [{what: '--wsl-conf ', path: plan.wsl.path, dir: false}] : []),
    ...plan.dirs.map((d) => ({what: '--textfile-dir ', path: d, dir: true})),
  ]
  for (const g of gated) {
    const why = deps.files.refused(g.path, g.dir)
    if (why) return usageVerdict(SUBJECT, `${g.what}refused, nothing written: ${why}`)
  }
  return locked(deps, plan.name, () => installLocked(input, plan, target, deps), input.dryRun)
}

async function installLocked(input: InstallInput, plan: Plan, target: WritingTarget, deps: InstallDeps): Promise<Verdict> {
  const checks: Check[] = []
  const actions: Action[] = []
  const details: string[] = []
  const t0 = deps.clock.now()
  const at = () => Math.round(deps.clock.now() - t0)
  const extra: Record<string, unknown> = {name: plan.name, unitName: plan.unitName, target, kind: plan.kind, dryRun: input.dryRun}
  const done = (status: Verdict['status'], summary: string): Verdict => ({subject: SUBJECT, status, summary, checks, actions, details, extra, printDetails: input.dryRun})

  const old = deps.manifests.read(plan.name)
  const forged = old ? manifestProblems(old, deps.host) : []
  if (forged.length) return done('ALERT', `refused, nothing written: the manifest ${deps.manifests.path(plan.name)} names what is not ${plan.unitName}’s own: ${forged.join('; ')}`)
  if (old && old.target !== target) return done('ALERT', `${plan.unitName} is installed with --target ${old.target}; run medic uninstall --name ${plan.name} first`)
  const oursText = (path: string) => old?.files.find((f) => f.path === path)?.text ?? null
  // A path another install recorded is that install's, whatever it holds.
  const claimed = new Map<string, string>()
  for (const n of deps.manifests.names()) if (n !== plan.name) for (const f of deps.manifests.read(n)?.files ?? []) claimed.set(f.path, n)

  // 1. Every file: create, update (medic's own, unchanged since), same — or refuse it all.
  const steps: Step[] = []
  const refusals: string[] = []
  for (const f of plan.files) {
    if (claimed.has(f.path)) {
      refusals.push(`${f.path} belongs to the install ${claimed.get(f.path)}`)
      continue
    }
    const d = decideWrite(f.path, f.text, deps.files.read(f.path), oursText(f.path), {mode: f.mode, uid: deps.host.uid})
    if (d.action === 'refuse') refusals.push(d.reason)
    else steps.push({...f, action: d.action, before: d.action === 'update' || d.action === 'fix' ? d.before : null, ...(d.action === 'fix' ? {why: d.why} : {})})
  }
  const stale = (old?.files ?? []).filter((f) => !plan.files.some((p) => p.path === f.path))

  // 2. A user crontab block, the wsl.conf line: merged into files that are not medic's.
  let crontab: {before: string; after: string} | null = null
  if (plan.crontabBlock !== null) {
    const cur = await deps.crontab.read()
    if (!cur.ok) return done('UNKNOWN', `cannot read your crontab: ${cur.detail}`)
    const at0 = findBlock(cur.text, plan.unitName)
    if (at0 === 'ambiguous') refusals.push(`your crontab has a broken or repeated ${plan.unitName} block; fix it by hand (crontab -e)`)
    else if (at0 && ![plan.crontabBlock, old?.crontab?.block].includes(cur.text.slice(at0.start, at0.end))) refusals.push(`the ${plan.unitName} block in your crontab was changed since medic wrote it; not overwriting`)
    else {
      const merged = mergeBlock(cur.text, plan.unitName, plan.crontabBlock) as string
      crontab = {before: cur.text, after: merged}
    }
  }
  let wsl: {before: string; after: string; appended: string | null; mode: number; existed: boolean} | null = null
  if (plan.wsl) {
    const disk = deps.files.read(plan.wsl.path)
    if (disk.kind !== 'file' && disk.kind !== 'missing') refusals.push(`${plan.wsl.path} is ${disk.kind === 'other' ? disk.what : disk.kind === 'symlink' ? 'a symlink' : disk.detail}; medic edits only a regular file`)
    else {
      const text = disk.kind === 'file' ? disk.text : ''
      const m = mergeWslConf(text, plan.wsl.line, old?.wsl?.line ?? null)
      if (!m.ok) refusals.push(`${m.reason}; remove that line first (medic boot replaces the seed's wsl_boot.sh)`)
      else wsl = {before: text, after: m.text, appended: old?.wsl && old.wsl.appended && m.appended === null ? old.wsl.appended : m.appended, mode: disk.kind === 'file' ? disk.mode : 0o644, existed: disk.kind === 'file'}
    }
  }
  if (refusals.length) {
    checks.push(...refusals.map((r) => ({name: 'ownership', status: 'ALERT' as const, detail: r})))
    return done('ALERT', `refused, nothing written: ${refusals.join('; ')}`)
  }

  const changing = steps.filter((s) => s.action !== 'same')
  const crontabChanges = crontab !== null && crontab.before !== crontab.after
  const wslChanges = wsl !== null && wsl.before !== wsl.after
  for (const s of changing) details.push(...(s.action === 'fix' ? [`~~~ ${s.why}: written again with medic’s mode and owner`] : unifiedDiff(s.path, s.before ?? '', s.text)))
  for (const s of stale) details.push(`--- ${s.path} (no longer part of ${plan.unitName}: removed if unchanged)`)
  if (crontabChanges) details.push(...unifiedDiff('crontab', crontab!.before, crontab!.after))
  if (wslChanges) details.push(...unifiedDiff(plan.wsl!.path, wsl!.before, wsl!.after))

  // 3. systemd-analyze verify on every unit that changes, before anything is written.
  const unitSteps = plan.systemd ? steps.filter((s) => s.role === 'service' || s.role === 'timer' || s.role === 'dropin') : []
  if (plan.systemd && unitSteps.some((s) => s.action !== 'same')) {
    const files: {name: string; text: string}[] = []
    for (const s of unitSteps) {
      if (s.role !== 'dropin') files.push({name: s.path.split('/').pop()!, text: s.text})
      else {
        const unit = plan.systemd.hardened!
        const r = await deps.systemd.systemctl(['show', unit, '--no-pager', '-p', 'LoadState,FragmentPath'], plan.systemd.user)
        const load = /^LoadState=(.*)$/m.exec(r.stdout)?.[1]
        const fragment = /^FragmentPath=(.*)$/m.exec(r.stdout)?.[1] ?? ''
        if (r.code !== 0) return done('UNKNOWN', `cannot ask systemd about ${unit}: ${(r.stderr.trim() || `exit ${r.code}`).split('\n')[0]}`)
        if (load !== 'loaded') return done('ALERT', `${unit} is ${load ?? 'unknown'} here: nothing to harden (install the unit first)`)
        const text = deps.files.readIfFile(fragment)
        if (text === null) return done('UNKNOWN', `cannot read ${unit}'s unit file ${fragment || '(none)'} to verify the drop-in against it`)
        files.push({name: unit, text}, {name: `${unit}.d/${s.path.split('/').pop()}`, text: s.text})
      }
    }
    const v = await deps.systemd.analyze(files, plan.systemd.user)
    checks.push({name: 'systemd-analyze verify', status: v.ok ? 'OK' : 'ALERT', detail: `${files.map((f) => f.name).join(', ')}: ${v.detail}`})
    if (!v.ok) return done('ALERT', `systemd-analyze verify rejected what medic would write, nothing written: ${v.detail}`)
  }

  if (input.dryRun) {
    const what = [...changing.map((s) => `${s.action} ${s.path}`), ...stale.map((s) => `remove ${s.path}`), ...(crontabChanges ? ['edit your crontab'] : []), ...(wslChanges ? [`edit ${plan.wsl!.path}`] : [])]
    if (details.some((l) => defang(l) !== l)) details.push('note: a word above that looks like a status token is shown with - for _ (stdout holds no token after line 1); the file gets it exactly')
    return done('OK', what.length ? `dry run, nothing written: would ${what.join(', ')}` : `dry run: ${describePlan(plan)} is installed as planned; nothing to write`)
  }

  // 4. Write: medic's files, the crontab block, the wsl.conf line, the textfile dir.
  const manifest: Manifest = {
    version: 1, name: plan.name, unitName: plan.unitName, kind: plan.kind, target, request: input.request,
    installedAt: old?.installedAt ?? deps.clock.wall().toISOString(), updatedAt: deps.clock.wall().toISOString(),
    files: [], crontab: null, wsl: null, dirs: [], systemd: plan.systemd, watch: plan.watch,
  }
  const failures: string[] = []
  for (const s of steps) {
    if (s.action === 'same') {
      manifest.files.push({path: s.path, text: s.text, mode: s.mode, uid: deps.host.uid, role: s.role, createdDirs: old?.files.find((f) => f.path === s.path)?.createdDirs ?? []})
      continue
    }
    const w = deps.files.write(s.path, s.text, s.mode, s.before)
    actions.push({action: s.action === 'create' ? 'write' : s.action === 'fix' ? 'fix mode and owner' : 'rewrite', target: s.path, result: w.ok ? 'ok' : `failed: ${w.detail}`, ms: at()})
    if (w.ok) manifest.files.push({path: s.path, text: s.text, mode: s.mode, uid: deps.host.uid, role: s.role, createdDirs: [...(old?.files.find((f) => f.path === s.path)?.createdDirs ?? []), ...w.createdDirs]})
    else failures.push(w.detail)
  }
  if (crontab) {
    if (crontabChanges) {
      const w = await deps.crontab.write(crontab.after)
      actions.push({action: 'crontab', target: plan.unitName, result: w.ok ? 'ok' : `failed: ${w.detail}`, ms: at()})
      if (!w.ok) failures.push(w.detail)
    }
    if (!crontabChanges || actions.at(-1)?.result === 'ok') manifest.crontab = {block: plan.crontabBlock!}
  }
  if (wsl && plan.wsl) {
    let ok = true
    if (wslChanges) {
      const w = deps.files.write(plan.wsl.path, wsl.after, wsl.mode, wsl.existed ? wsl.before : null)
      ok = w.ok
      actions.push({action: 'edit', target: plan.wsl.path, result: w.ok ? 'ok' : `failed: ${w.detail}`, ms: at()})
      if (!w.ok) failures.push(w.detail)
    }
    if (ok) manifest.wsl = {path: plan.wsl.path, line: plan.wsl.line, appended: wsl.appended}
  }
  for (const d of plan.dirs) {
    const made = deps.files.mkdirs(d)
    const prev = old?.dirs.find((x) => x.path === d)
    if (!made.ok) failures.push(made.detail)
    else {
      manifest.dirs.push({path: d, created: (prev?.created ?? false) || made.created.length > 0})
      if (made.created.length) actions.push({action: 'mkdir', target: d, result: 'ok', ms: at()})
    }
  }
  for (const s of stale) {
    const d = decideRemove(s.path, s.text, deps.files.read(s.path))
    if (d.action === 'remove') {
      const r = deps.files.remove(s.path, s.text)
      actions.push({action: 'remove', target: s.path, result: r.ok ? 'ok' : `failed: ${r.detail}`, ms: at()})
    } else if (d.action === 'leave') details.push(d.reason)
  }
  const saved = deps.manifests.write(manifest)
  if (!saved.ok) failures.push(saved.detail)
  if (failures.length) return done('ALERT', `install incomplete: ${failures.join('; ')}`)

  // 5. Make it run.
  const wrote = actions.some((a) => a.result === 'ok')
  const notes: string[] = []
  let status: Verdict['status'] = 'OK'
  if (plan.systemd) {
    const r = await activateSystemd(plan, input, deps, unitSteps.some((s) => s.action !== 'same') || stale.length > 0, actions, at)
    notes.push(...r.notes)
    checks.push(...r.checks)
    if (!r.ok) status = 'ALERT'
  } else if (target === 'cron') {
    const running = deps.cronRunning()
    checks.push({name: 'cron daemon', status: running ? 'OK' : 'ALERT', detail: running ? 'running' : 'no cron daemon runs here: nothing will run the job (start cron)'})
    if (!running) status = 'ALERT'
    if (wrote && input.start) notes.push(await firstRun(plan, input, deps, checks, actions, at))
    if (!running) notes.push('but no cron daemon is running')
  } else if (target === 'wsl') notes.push('runs at the next WSL start')
  extra.changed = wrote
  extra.files = manifest.files.map((f) => f.path)
  return done(status, `${wrote ? 'installed' : 'already installed, nothing rewritten:'} ${describePlan(plan)}${notes.length ? `; ${notes.join('; ')}` : ''}`)
}

async function activateSystemd(plan: Plan, input: InstallInput, deps: InstallDeps, unitsChanged: boolean, actions: Action[], at: () => number): Promise<{ok: boolean; notes: string[]; checks: Check[]}> {
  const s = plan.systemd!
  const notes: string[] = []
  const checks: Check[] = []
  const sc = (args: string[], timeoutMs?: number) => deps.systemd.systemctl(args, s.user, timeoutMs)
  const how = `systemctl${s.user ? ' --user' : ''}`
  const step = async (args: string[], timeoutMs?: number) => {
    const r = await sc(args, timeoutMs)
    const ok = r.code === 0 && !r.timedOut
    actions.push({action: args[0], target: args.slice(1).filter((a) => !a.startsWith('-')).join(' ') || how, result: ok ? 'ok' : `failed: ${(r.stderr.trim().split('\n')[0] || (r.timedOut ? 'timed out' : `exit ${r.code}`)).slice(0, 160)}`, ms: at()})
    return ok
  }
  if (unitsChanged && !(await step(['daemon-reload']))) {
    return {ok: false, notes: [`written, but ${how} daemon-reload failed: run ${how} daemon-reload && ${how} enable --now ${s.timer ?? s.service ?? ''}`.trim()], checks}
  }
  const main = s.timer ?? s.service
  if (main) {
    const st = await sc(['show', main, '--no-pager', '-p', 'UnitFileState,ActiveState'])
    const enabled = /^UnitFileState=enabled/m.test(st.stdout)
    const active = /^ActiveState=active/m.test(st.stdout)
    if (!input.start) {
      if (!enabled && !(await step(['enable', main]))) return {ok: false, notes: [`could not enable ${main}`], checks}
      notes.push(`enabled, not started (${how} start ${main})`)
    } else if (!enabled || !active) {
      if (!(await step(['enable', '--now', main]))) return {ok: false, notes: [`could not enable and start ${main}: see ${how} status ${main}`], checks}
    } else if (unitsChanged && !s.timer && s.service) {
      // A long-running service whose unit changed: restart it onto the new unit.
      if (!(await step(['restart', s.service]))) return {ok: false, notes: [`could not restart ${s.service}`], checks}
    }
    if (s.timer && input.start && (unitsChanged || !active)) {
      // The first run now, so the check's first verdict is known (and recorded for verify).
      const since = deps.clock.wall().getTime() - 1000
      await step(['start', s.service!], input.firstRunTimeoutMs)
      const rec = plan.watch.commandId && plan.watch.subject ? deps.lastVerdict(plan.watch.stateDir, plan.watch.commandId, plan.watch.subject, plan.name) : null
      const last = rec && Date.parse(rec.at) >= since ? rec : null
      notes.push(last ? `first run ${last.token}` : 'the first run recorded no verdict')
      checks.push({name: 'first run', status: last ? last.status : 'UNKNOWN', detail: last ? `${last.token}: ${last.summary}` : `no verdict recorded in ${plan.watch.stateDir}`})
    }
  }
  if (s.hardened) notes.push(`the hardening applies from the next start of ${s.hardened}`)
  return {ok: true, notes, checks}
}

/** A cron check's first run, now, exactly as cron will run it: its first verdict is known (and recorded for verify). */
async function firstRun(plan: Plan, input: InstallInput, deps: InstallDeps, checks: Check[], actions: Action[], at: () => number): Promise<string> {
  const since = deps.clock.wall().getTime() - 1000
  const r = await deps.runOnce(plan.argv!, plan.env, input.firstRunTimeoutMs)
  actions.push({action: 'run once', target: plan.unitName, result: r.ok ? 'ok' : `failed: ${r.detail}`, ms: at()})
  const rec = plan.watch.commandId && plan.watch.subject ? deps.lastVerdict(plan.watch.stateDir, plan.watch.commandId, plan.watch.subject, plan.name) : null
  const last = rec && Date.parse(rec.at) >= since ? rec : null
  checks.push({name: 'first run', status: last ? last.status : 'UNKNOWN', detail: last ? `${last.token}: ${last.summary}` : `no verdict recorded in ${plan.watch.stateDir}: ${r.detail}`})
  return last ? `first run ${last.token}` : 'the first run recorded no verdict'
}

export interface UninstallInput {
  name: string
  dryRun: boolean
}

/** `medic uninstall --name N`: stops and removes exactly what the manifest says medic wrote — and nothing changed since. */
export async function uninstall(input: UninstallInput, deps: InstallDeps): Promise<Verdict> {
  const m = deps.manifests.read(input.name)
  if (!m) return {subject: SUBJECT, status: 'OK', summary: `nothing installed as ${input.name} (no manifest ${deps.manifests.path(input.name)}); nothing to do`, checks: [], actions: []}
  return locked(deps, input.name, async () => {
    // Only medic's own names and the content it wrote go: a manifest naming anything else is refused whole.
    const forged = manifestProblems(m, deps.host)
    if (forged.length) return {subject: SUBJECT, status: 'ALERT', summary: `refused, nothing removed: the manifest ${deps.manifests.path(input.name)} names what is not medic-${input.name}’s own: ${forged.join('; ')}`, checks: forged.map((f) => ({name: 'manifest', status: 'ALERT' as const, detail: f})), actions: []}
    const actions: Action[] = []
    const left: string[] = []
    const plan: string[] = []
    const t0 = deps.clock.now()
    const at = () => Math.round(deps.clock.now() - t0)
    const s = m.systemd
    if (s && !input.dryRun) {
      for (const u of [s.timer, s.service].filter((x): x is string => Boolean(x))) {
        const r = await deps.systemd.systemctl(['disable', '--now', u], s.user)
        actions.push({action: 'disable --now', target: u, result: r.code === 0 ? 'ok' : `failed: ${r.stderr.trim().split('\n')[0] ?? ''}`, ms: at()})
      }
    }
    for (const f of [...m.files].reverse()) {
      const d = decideRemove(f.path, f.text, deps.files.read(f.path))
      if (d.action === 'leave') left.push(d.reason)
      else if (d.action === 'remove') {
        plan.push(`remove ${f.path}`)
        if (!input.dryRun) {
          const r = deps.files.remove(f.path, f.text)
          actions.push({action: 'remove', target: f.path, result: r.ok ? 'ok' : `failed: ${r.detail}`, ms: at()})
          if (!r.ok) left.push(r.detail)
        }
      }
      if (!input.dryRun) for (const dir of [...f.createdDirs].reverse()) deps.files.rmdirIfEmpty(dir)
    }
    if (m.crontab) {
      const cur = await deps.crontab.read()
      const pos = cur.ok ? findBlock(cur.text, m.unitName) : null
      if (!cur.ok) left.push(`cannot read your crontab: ${cur.detail}`)
      else if (pos && pos !== 'ambiguous' && cur.text.slice(pos.start, pos.end) === m.crontab.block) {
        plan.push('remove medic’s block from your crontab')
        if (!input.dryRun) {
          const w = await deps.crontab.write(mergeBlock(cur.text, m.unitName, null) as string)
          actions.push({action: 'crontab', target: m.unitName, result: w.ok ? 'ok' : `failed: ${w.detail}`, ms: at()})
          if (!w.ok) left.push(w.detail)
        }
      } else if (pos) left.push(`the ${m.unitName} block in your crontab was changed since medic wrote it; left in place`)
    }
    if (m.wsl) {
      const disk = deps.files.read(m.wsl.path)
      const un = disk.kind === 'file' ? unmergeWslConf(disk.text, m.wsl.line, m.wsl.appended) : null
      if (disk.kind !== 'file') left.push(`${m.wsl.path} is not a regular file any more; left alone`)
      else if (!un!.ok) left.push(un!.reason)
      else {
        plan.push(`take medic’s [boot] command out of ${m.wsl.path}`)
        if (!input.dryRun) {
          const w = deps.files.write(m.wsl.path, un!.text, disk.mode, disk.text)
          actions.push({action: 'edit', target: m.wsl.path, result: w.ok ? 'ok' : `failed: ${w.detail}`, ms: at()})
          if (!w.ok) left.push(w.detail)
        }
      }
    }
    if (!input.dryRun) for (const d of m.dirs) if (d.created) deps.files.rmdirIfEmpty(d.path)
    if (s && !input.dryRun && actions.some((a) => a.action === 'remove' && a.result === 'ok')) {
      const r = await deps.systemd.systemctl(['daemon-reload'], s.user)
      actions.push({action: 'daemon-reload', target: s.user ? 'systemctl --user' : 'systemctl', result: r.code === 0 ? 'ok' : `failed: ${r.stderr.trim().split('\n')[0] ?? ''}`, ms: at()})
      for (const u of [s.timer, s.service].filter((x): x is string => Boolean(x))) await deps.systemd.systemctl(['reset-failed', u], s.user)
    }
    if (input.dryRun) return {subject: SUBJECT, status: left.length ? 'ALERT' : 'OK', summary: `dry run, nothing changed: would ${[...(s ? [`disable ${[s.timer, s.service].filter(Boolean).join(', ')}`] : []), ...plan].join(', ') || 'do nothing'}${left.length ? `; would leave: ${left.join('; ')}` : ''}`, checks: [], actions, details: plan, printDetails: true}
    deps.manifests.remove(m.name)
    const failed = actions.filter((a) => a.result !== 'ok')
    const summary = `uninstalled ${m.unitName}: ${actions.filter((a) => a.result === 'ok').map((a) => `${a.action} ${a.target}`).join(', ') || 'nothing was left to remove'}`
    if (left.length || failed.length) return {subject: SUBJECT, status: 'ALERT', summary: `${summary}; left in place: ${[...left, ...failed.map((a) => `${a.action} ${a.target}: ${a.result}`)].join('; ')}`, checks: [], actions}
    return {subject: SUBJECT, status: 'OK', summary, checks: [], actions}
  }, input.dryRun)
}
