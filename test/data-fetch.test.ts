// Data (issue 3): downloads from a local HTTP server on 127.0.0.1: checksum ok → cached; wrong checksum, 404 or a
// cut transfer → a clear one-line error and nothing left in the data folder; tar.gz archives (CIFAR) extracted.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { data } from '../lib/src';
import {
  cifarPixel,
  listTree,
  md5,
  sha256,
  tarBytes,
  tmpDir,
  writeCifar10,
  writeIdxDataset,
} from './fixtures/data-fixtures';

const files = new Map<string, Buffer>();
const requests: string[] = [];
let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    if (url.startsWith('/cut/')) {
      // announces 1000 bytes, sends 100, then drops the connection
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100, 7));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    const body = files.get(url);
    if (!body) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function saveEnv(names: string[]): () => void {
  const saved = names.map((n) => process.env[n]);
  names.forEach((n) => delete process.env[n]);
  return () =>
    names.forEach((n, k) => (saved[k] === undefined ? delete process.env[n] : (process.env[n] = saved[k])));
}

test('downloadFile: checksum ok → the file is in place, and nothing else', async () => {
  const body = Buffer.from('hello long tail '.repeat(1000));
  files.set('/a/file.bin', body);
  const dir = tmpDir('dl-ok');
  const dest = path.join(dir, 'file.bin');
  await data.downloadFile({ file: 'file.bin', urls: [`${base}/a/file.bin`], sha256: sha256(body) }, dest, {
    progress: false,
  });
  assert.deepEqual(fs.readFileSync(dest), body);
  assert.deepEqual(listTree(dir), ['file.bin']);
  // MD5 works the same, and a dead first address falls through to the next one
  const dest2 = path.join(dir, 'file2.bin');
  await data.downloadFile(
    {
      file: 'file2.bin',
      urls: [`${base}/missing/file.bin`, `${base}/a/file.bin`],
      md5: md5(body),
      bytes: body.length,
    },
    dest2,
    { progress: false },
  );
  assert.deepEqual(fs.readFileSync(dest2), body);
});

test('downloadFile: wrong checksum, 404 or a cut transfer → one-line error naming the file, nothing left', async () => {
  files.set('/b/file.bin', Buffer.from('payload'));
  const dir = tmpDir('dl-bad');
  const dest = path.join(dir, 'file.bin');
  const shown = data.displayPath(dest);
  const wrong = '0'.repeat(64);
  await assert.rejects(
    data.downloadFile({ file: 'file.bin', urls: [`${base}/b/file.bin`], sha256: wrong }, dest, {
      progress: false,
    }),
    (e: Error) =>
      e instanceof data.DataError &&
      e.message ===
        `${shown}: download failed (${base}/b/file.bin: checksum mismatch (SHA-256 ${sha256(Buffer.from('payload'))}, ` +
          `expected ${wrong})); nothing was saved`,
  );
  await assert.rejects(
    data.downloadFile(
      { file: 'file.bin', urls: [`${base}/nope/file.bin`], md5: md5(Buffer.from('x')) },
      dest,
      {
        progress: false,
      },
    ),
    new RegExp(
      `file\\.bin: download failed \\(${base}/nope/file\\.bin: HTTP 404 Not Found\\); nothing was saved`,
    ),
  );
  await assert.rejects(
    data.downloadFile({ file: 'file.bin', urls: [`${base}/cut/file.bin`], md5: 'f'.repeat(32) }, dest, {
      progress: false,
    }),
    (e: Error) =>
      /file\.bin: download failed \(.*\/cut\/file\.bin: (transfer cut short|connection lost)/.test(
        e.message,
      ) && !e.message.includes('\n'),
  );
  assert.deepEqual(listTree(dir), []);
});

test('fetch of an IDX dataset into the cache, then loaded from it; a second load does not download again', async () => {
  const restore = saveEnv(['NCL_DATA_DIR', 'NCL_OFFLINE', 'NCL_DATA_MIRROR']);
  try {
    const src = tmpDir('srv-idx');
    const folder = writeIdxDataset(src, { nTrain: 30, nTest: 10 });
    const remote: data.RemoteFile[] = data.SOURCES.mnist.remote.map((r) => {
      const body = fs.readFileSync(path.join(folder, r.file));
      files.set(`/mnist/${r.file}`, body);
      return { file: r.file, urls: [`${base}/mnist/${r.file}`], md5: md5(body) };
    });
    const cache = tmpDir('cache-idx');
    const got = await data.fetchSource({ ...data.SOURCES.mnist, remote }, cache, { progress: false });
    assert.equal(got, path.join(cache, 'mnist'));
    assert.deepEqual(listTree(cache), [
      'mnist/',
      'mnist/t10k-images-idx3-ubyte.gz',
      'mnist/t10k-labels-idx1-ubyte.gz',
      'mnist/train-images-idx3-ubyte.gz',
      'mnist/train-labels-idx1-ubyte.gz',
    ]);
    data.clearDatasetCache();
    const n = requests.length;
    const ds = await data.loadDataset('mnist', { dataDir: cache, mirror: `${base}/mnist` });
    assert.equal(ds.train.n, 30);
    assert.equal(requests.length, n, 'found in the cache, no request');
  } finally {
    restore();
  }
});

test('loadDataset from a mirror whose files fail the official checksum: clear error, data folder left empty', async (t) => {
  const restore = saveEnv(['NCL_DATA_DIR', 'NCL_OFFLINE', 'NCL_DATA_MIRROR']);
  try {
    if (data.locateSource(data.SOURCES.mnist, data.searchRoots())) {
      t.skip('an MNIST copy exists on this machine');
      return;
    }
    const src = tmpDir('srv-bad');
    const folder = writeIdxDataset(src, {});
    for (const f of fs.readdirSync(folder)) files.set(`/bad/${f}`, fs.readFileSync(path.join(folder, f)));
    const cache = tmpDir('cache-bad');
    await assert.rejects(
      data.loadDataset('mnist', { dataDir: cache, mirror: `${base}/bad`, progress: false }),
      (e: Error) =>
        e instanceof data.DataError &&
        !e.message.includes('\n') &&
        e.message.startsWith(
          `${data.displayPath(path.join(cache, 'mnist', 'train-images-idx3-ubyte.gz'))}: download failed`,
        ) &&
        e.message.includes('checksum mismatch (MD5 ') &&
        e.message.includes('expected f68b3c2dcbeaaa9fbdd348bbdeb94873'),
    );
    assert.deepEqual(listTree(cache), []);
    // NCL_DATA_MIRROR does the same as the option; NCL_OFFLINE=1 forbids it before any request
    process.env.NCL_OFFLINE = '1';
    process.env.NCL_DATA_MIRROR = `${base}/bad`;
    const n = requests.length;
    await assert.rejects(
      data.loadDataset('mnist', { dataDir: cache }),
      /mnist: not found .*downloads are off/,
    );
    assert.equal(requests.length, n);
  } finally {
    restore();
  }
});

test('CIFAR-10 tar.gz: verified, extracted to cifar-10-batches-bin/, archive removed, readable', async () => {
  const restore = saveEnv(['NCL_DATA_DIR', 'NCL_OFFLINE', 'NCL_DATA_MIRROR']);
  try {
    const src = tmpDir('srv-c10');
    const dir = writeCifar10(src, 2);
    const entries: [string, Buffer | null][] = [['cifar-10-batches-bin/', null]];
    for (const f of fs.readdirSync(dir).sort())
      entries.push([`cifar-10-batches-bin/${f}`, fs.readFileSync(path.join(dir, f))]);
    const tgz = tarBytes(entries);
    files.set('/kriz/cifar-10-binary.tar.gz', tgz);
    const cache = tmpDir('cache-c10');
    const source = {
      ...data.SOURCES.cifar10,
      remote: [
        { file: 'cifar-10-binary.tar.gz', urls: [`${base}/kriz/cifar-10-binary.tar.gz`], md5: md5(tgz) },
      ],
    };
    await data.fetchSource(source, cache, { progress: false });
    assert.deepEqual(
      listTree(cache),
      ['cifar-10-batches-bin/', ...fs.readdirSync(dir).map((f) => `cifar-10-batches-bin/${f}`)].sort(),
    );
    data.clearDatasetCache();
    const ds = await data.loadDataset('cifar10', { dataDir: cache, offline: true });
    assert.equal(ds.train.n, 10);
    assert.equal(ds.train.images[((3 * 32 + 1) * 32 + 2) * 3 + 1], cifarPixel(2, 1, 1, 1, 2));
    // a wrong checksum leaves nothing; so does an archive without the expected folder
    const cache2 = tmpDir('cache-c10-bad');
    await assert.rejects(
      data.fetchSource({ ...source, remote: [{ ...source.remote[0], md5: '0'.repeat(32) }] }, cache2, {
        progress: false,
      }),
      /cifar-10-batches-bin\/cifar-10-binary\.tar\.gz: download failed \(.*checksum mismatch \(MD5/,
    );
    const wrongTar = tarBytes([['other/x.bin', Buffer.alloc(5)]]);
    files.set('/kriz/wrong.tar.gz', wrongTar);
    await assert.rejects(
      data.fetchSource(
        {
          ...source,
          remote: [
            { file: 'cifar-10-binary.tar.gz', urls: [`${base}/kriz/wrong.tar.gz`], md5: md5(wrongTar) },
          ],
        },
        cache2,
        { progress: false },
      ),
      /cifar-10-binary\.tar\.gz: archive lacks cifar-10-batches-bin\/data_batch_1\.bin/,
    );
    assert.deepEqual(listTree(cache2), []);
  } finally {
    restore();
  }
});

test('tar extraction refuses entries that would escape the destination', () => {
  const dir = tmpDir('tar-evil');
  const archive = path.join(dir, 'evil.tar.gz');
  fs.writeFileSync(archive, tarBytes([['../escape.txt', Buffer.from('x')]]));
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  assert.throws(() => data.extractTar(archive, out), /evil\.tar\.gz: refusing tar entry '\.\.\/escape\.txt'/);
  assert.ok(!fs.existsSync(path.join(dir, 'escape.txt')));
  fs.writeFileSync(archive, tarBytes([['a.bin', Buffer.alloc(2000, 1)]]).subarray(0, 60));
  assert.throws(() => data.extractTar(archive, out), /evil\.tar\.gz: corrupt gzip data|truncated tar/);
});
