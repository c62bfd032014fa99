/**
 * A single-node SLURM cluster for tests, started from the Debian packages (slurmctld slurmd slurm-client munge) in a
 * folder of its own: its own munge key and socket, its own ports, state and logs; the clients find it through
 * `SLURM_CONF`. `stop()` cancels its jobs and ends the three daemons it started, by pid.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The programs a cluster needs. */
export const SLURM_PROGRAMS = [
  'munged',
  'slurmctld',
  'slurmd',
  'sbatch',
  'squeue',
  'scancel',
  'scontrol',
  'sinfo',
  'runuser',
];

/** Why a cluster cannot be started here (missing programs, not root), or null. */
export function slurmUnavailable(): string | null {
  const where = (p: string) =>
    ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(path.delimiter)].some(
      (d) => d && fs.existsSync(path.join(d, p)),
    );
  const missing = SLURM_PROGRAMS.filter((p) => !where(p));
  if (missing.length)
    return `SLURM is not installed (missing ${missing.join(', ')}; apt-get install --no-install-recommends slurmctld slurmd slurm-client munge)`;
  if (process.getuid?.() !== 0) return 'starting slurmctld, slurmd and munged needs root';
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Cluster {
  dir: string;
  /** The environment its clients need (SLURM_CONF). */
  env: NodeJS.ProcessEnv;
  /** Stop the daemons started (jobs first), by pid, and remove its folder. */
  stop(): Promise<void>;
}

/**
 * Start munged, slurmctld and slurmd in a new folder under the system's temp folder (user munge must reach it, so not
 * in a caller's private temp folder); `cpus`: the number of task slots of the node. `stop()` removes the folder.
 */
export async function startCluster(cpus = 2): Promise<Cluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-slurm-cluster-'));
  const sbin = (p: string) => (fs.existsSync(`/usr/sbin/${p}`) ? `/usr/sbin/${p}` : p);
  // munge: the socket's folder must be world-searchable, the key's private to user munge.
  const sock = path.join(dir, 'munge-run');
  const priv = path.join(dir, 'munge-key');
  fs.mkdirSync(sock, { mode: 0o755 });
  fs.mkdirSync(priv, { mode: 0o700 });
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(priv, 'munge.key'), crypto.randomBytes(1024), { mode: 0o400 });
  execFileSync('chown', ['-R', 'munge:munge', sock, priv]);
  const pids: { name: string; file: string }[] = [];
  const socket = path.join(sock, 'munge.socket');
  execFileSync('runuser', [
    '-u',
    'munge',
    '--',
    sbin('munged'),
    `--socket=${socket}`,
    `--key-file=${path.join(priv, 'munge.key')}`,
    `--pid-file=${path.join(sock, 'munged.pid')}`,
    `--log-file=${path.join(priv, 'munged.log')}`,
    `--seed-file=${path.join(priv, 'munged.seed')}`,
  ]);
  pids.push({ name: 'munged', file: path.join(sock, 'munged.pid') });
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  for (const d of ['state', 'spool', 'log']) fs.mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=ncltest',
      'SlurmctldHost=localhost(127.0.0.1)',
      'SlurmUser=root',
      'SlurmdUser=root',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${path.join(dir, 'state')}`,
      `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
      `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SchedulerParameters=batch_sched_delay=0',
      'DependencyParameters=kill_invalid_depend',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'SlurmdParameters=config_overrides',
      'ReturnToService=2',
      'MpiDefault=none',
      'KillWait=10',
      'MinJobAge=600',
      `NodeName=ncltest NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=1000 State=UNKNOWN`,
      'PartitionName=test Nodes=ncltest Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const cluster: Cluster = {
    dir,
    env,
    stop: async () => {
      spawnSync('scancel', ['--me'], { env });
      for (const { file } of [...pids].reverse()) {
        const pid = fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : NaN;
        if (!Number.isInteger(pid)) continue;
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          continue; // already gone
        }
        for (let t = 0; t < 100; t++) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await sleep(100);
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    execFileSync(sbin('slurmctld'), ['-c', '-f', conf], { env });
    pids.push({ name: 'slurmctld', file: path.join(dir, 'slurmctld.pid') });
    execFileSync(sbin('slurmd'), ['-f', conf, '-N', 'ncltest'], { env });
    pids.push({ name: 'slurmd', file: path.join(dir, 'slurmd.pid') });
    for (let t = 0; ; t++) {
      const r = spawnSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' });
      if (r.status === 0 && /^idle/m.test(r.stdout)) break;
      if (t > 300) throw new Error(`the test cluster did not come up: ${r.stdout}${r.stderr}`);
      await sleep(100);
    }
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
