/** A free loopback port, found synchronously by asking a short-lived child to bind port 0. */
import { execFileSync } from 'node:child_process';

export function freePortSync(): number {
  const out = execFileSync(process.execPath, ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(out.trim());
}
