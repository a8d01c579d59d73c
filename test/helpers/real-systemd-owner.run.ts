import {writeFileSync} from 'node:fs'
import {it} from 'vitest'
import {bootRealSystemd} from './real-systemd.js'

it('boots an instance and waits to be killed', async () => {
  const rs = await bootRealSystemd()
  writeFileSync(process.env.MEDIC_RS_OWNER_OUT!, JSON.stringify({name: rs.name, initPid: rs.initPid, owner: process.pid}))
  await new Promise((r) => setTimeout(r, 100_000))
})
