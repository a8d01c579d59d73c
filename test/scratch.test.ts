import {it} from 'vitest'
import {bootRealSystemd} from './helpers/real-systemd.js'
it('scratch', async () => {
  const rs = await bootRealSystemd()
  try {
    await rs.sh('mkdir -p /tmp/v')
    await rs.writeFile('/tmp/v/medic-x.service', `[Unit]\nDescription=x\nAfter=network.target ollama.service\nWants=ollama.service\n[Service]\nType=oneshot\nExecStart=/usr/bin/node "/a b/run.js" "a$$b" "100%%" "q\\"x" ; x\nSuccessExitStatus=1\nEnvironment=PATH=/usr/bin:/bin\n[Install]\nWantedBy=multi-user.target\n`)
    await rs.writeFile('/tmp/v/medic-x.timer', `[Unit]\nDescription=x\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=10min\nAccuracySec=1s\nPersistent=true\n[Install]\nWantedBy=timers.target\n`)
    console.log(await rs.exec(['systemd-analyze', 'verify', '/tmp/v/medic-x.service', '/tmp/v/medic-x.timer']))
    await rs.writeFile('/tmp/v/medic-y.service', `[Service]\nExecStart=/usr/bin/nonexist\nFooBar=1\n`)
    console.log(await rs.exec(['systemd-analyze', 'verify', '/tmp/v/medic-y.service']))
    await rs.sh('cp /tmp/v/medic-x.service /etc/systemd/system/ && systemctl daemon-reload')
    console.log(await rs.exec(['systemctl', 'show', 'medic-x', '-p', 'ExecStart']))
    console.log(await rs.exec(['systemctl', 'show', '--timestamp=unix', 'medic-x', '-p', 'ExecMainStartTimestamp,UnitFileState,LoadState']))
    console.log(await rs.exec(['systemctl', 'show', 'no-such', '-p', 'LoadState,UnitFileState,FragmentPath,DropInPaths']))
  } finally { await rs.down() }
}, 60000)
