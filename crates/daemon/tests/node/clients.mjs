// The @ctrl Node clients (the ones Flood and many scripts build on) drive a
// running shoal daemon through its Transmission RPC and qBittorrent WebAPI.
// Usage: node clients.mjs HOST PORT USER PASSWORD A.torrent B.torrent DIR
// Prints one line per call and "OK" when every call did what the client
// expects; exits non-zero otherwise.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Transmission } from '@ctrl/transmission';
import { QBittorrent } from '@ctrl/qbittorrent';

const [host, port, username, password, torrentA, torrentB, dir] = process.argv.slice(2);
const baseUrl = `http://${host}:${port}/`;
const failures = [];

async function step(name, action) {
  try {
    await action();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}

/// Polls `read` until `accept` holds for its value (state changes the daemon
/// applies asynchronously, such as a recheck), for at most five seconds.
async function eventually(read, accept) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) return value;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

async function transmission() {
  const client = new Transmission({ baseUrl, username, password });
  let id;
  let hash;
  await step('transmission getSession: a version the *arr check takes', async () => {
    const session = await client.getSession();
    assert.match(session.arguments.version, /^\d+\.\d+/);
    assert.ok(session.arguments['rpc-version'] >= 15);
  });
  await step('transmission normalizedAddTorrent with a label, paused', async () => {
    const torrent = await client.normalizedAddTorrent(await readFile(torrentA), {
      label: 'tv',
      startPaused: true,
    });
    id = torrent.id;
    hash = torrent.infoHash ?? torrent.id;
    assert.equal(torrent.label, 'tv');
    assert.equal(torrent.state, 'paused');
  });
  await step('transmission addTorrent (base64) twice: the second is a duplicate', async () => {
    const bytes = await readFile(torrentB);
    const first = await client.addTorrent(bytes, { paused: true });
    assert.ok(first.arguments['torrent-added']);
    const again = await client.addTorrent(bytes, { paused: true });
    assert.ok(again.arguments['torrent-duplicate']);
  });
  await step('transmission getAllData: both torrents, label kept', async () => {
    const data = await client.getAllData();
    assert.equal(data.torrents.length, 2);
    const a = data.torrents.find(t => t.id === id);
    assert.equal(a.label, 'tv');
    assert.equal(a.totalSize, 110000);
  });
  await step('transmission listTorrents with extra fields', async () => {
    const list = await client.listTorrents(undefined, ['labels', 'files']);
    assert.equal(list.arguments.torrents.length, 2);
    const a = list.arguments.torrents.find(t => t.hashString === hash);
    assert.deepEqual(a.labels, ['tv']);
    assert.equal(a.files.length, 2);
  });
  await step('transmission resumeTorrent then pauseTorrent, seen at once', async () => {
    await client.resumeTorrent(hash);
    assert.notEqual((await client.getTorrent(hash)).state, 'paused');
    await client.pauseTorrent(hash);
    assert.equal((await client.getTorrent(hash)).state, 'paused');
  });
  await step('transmission queueTop / queueBottom / queueUp / queueDown', async () => {
    await client.queueTop(hash);
    const top = await client.listTorrents(undefined, ['queuePosition']);
    assert.equal(top.arguments.torrents.find(t => t.hashString === hash).queuePosition, 0);
    await client.queueBottom(hash);
    const bottom = await client.listTorrents(undefined, ['queuePosition']);
    assert.equal(bottom.arguments.torrents.find(t => t.hashString === hash).queuePosition, 1);
    await client.queueUp(hash);
    await client.queueDown(hash);
  });
  await step('transmission setTorrent: ratio limit and labels', async () => {
    await client.setTorrent(hash, { seedRatioLimit: 2.5, seedRatioMode: 1, labels: ['tv', 'hd'] });
    const list = await client.listTorrents(hash, ['seedRatioLimit', 'seedRatioMode', 'labels']);
    const a = list.arguments.torrents[0];
    assert.equal(a.seedRatioLimit, 2.5);
    assert.equal(a.seedRatioMode, 1);
    assert.deepEqual(a.labels, ['tv', 'hd']);
  });
  await step('transmission renamePath of a file', async () => {
    const before = await client.listTorrents(hash, ['files', 'name']);
    const torrentName = before.arguments.torrents[0].name;
    await client.renamePath(hash, { path: `${torrentName}/f0.bin`, name: 'renamed.bin' });
    const after = await client.listTorrents(hash, ['files']);
    assert.ok(after.arguments.torrents[0].files.some(f => f.name.endsWith('/renamed.bin')));
  });
  await step('transmission verifyTorrent and reannounceTorrent', async () => {
    const verify = await client.verifyTorrent(hash);
    assert.equal(verify.result, 'success');
    const reannounce = await client.reannounceTorrent(hash);
    assert.equal(reannounce.result, 'success');
  });
  await step('transmission moveTorrent', async () => {
    const target = `${dir}/moved`;
    await client.moveTorrent(hash, target);
    const list = await eventually(
      () => client.listTorrents(hash, ['downloadDir']),
      l => l.arguments.torrents[0].downloadDir === target,
    );
    assert.equal(list.arguments.torrents[0].downloadDir, target);
  });
  await step('transmission freeSpace', async () => {
    const space = await client.freeSpace(dir);
    assert.ok(space.arguments['size-bytes'] > 0);
  });
  await step('transmission setSession: speed limit seen in getSession', async () => {
    await client.setSession({ 'speed-limit-down': 321, 'speed-limit-down-enabled': true });
    const session = await client.getSession();
    assert.equal(session.arguments['speed-limit-down'], 321);
    assert.equal(session.arguments['speed-limit-down-enabled'], true);
    await client.setSession({ 'speed-limit-down-enabled': false });
  });
  await step('transmission removeTorrent (both)', async () => {
    const all = await client.listTorrents();
    for (const t of all.arguments.torrents) await client.removeTorrent(t.hashString, false);
    const after = await client.listTorrents();
    assert.equal(after.arguments.torrents.length, 0);
  });
}

async function qbittorrent() {
  const client = new QBittorrent({ baseUrl, username, password });
  let hash;
  await step('qbittorrent login, app and API versions', async () => {
    assert.ok(await client.login());
    assert.match(await client.getAppVersion(), /^v?\d+\.\d+/);
    assert.match(await client.getApiVersion(), /^2\.\d+/);
  });
  await step('qbittorrent getPreferences / setPreferences / getDefaultSavePath', async () => {
    const prefs = await client.getPreferences();
    assert.equal(typeof prefs.save_path, 'string');
    await client.setPreferences({ max_active_downloads: 7 });
    assert.equal((await client.getPreferences()).max_active_downloads, 7);
    assert.equal(typeof (await client.getDefaultSavePath()), 'string');
  });
  await step('qbittorrent createCategory / editCategory / getCategories', async () => {
    await client.createCategory('movies', `${dir}/movies`);
    await client.editCategory('movies', `${dir}/films`);
    const categories = await client.getCategories();
    assert.equal(categories.movies.savePath, `${dir}/films`);
  });
  await step('qbittorrent normalizedAddTorrent with a category, paused', async () => {
    const torrent = await client.normalizedAddTorrent(await readFile(torrentA), {
      label: 'movies',
      startPaused: true,
    });
    hash = torrent.id;
    assert.equal(torrent.label, 'movies');
    assert.equal(torrent.state, 'paused');
    assert.equal(torrent.totalSize, 110000);
  });
  await step('qbittorrent addTorrent (multipart) with tags', async () => {
    assert.ok(await client.addTorrent(await readFile(torrentB), { tags: 'x,y', stopped: 'true' }));
    const torrents = await client.listTorrents({ tag: 'x' });
    assert.equal(torrents.length, 1);
  });
  await step('qbittorrent getAllData and listTorrents filters', async () => {
    const data = await client.getAllData();
    assert.equal(data.torrents.length, 2);
    const movies = await client.listTorrents({ category: 'movies' });
    assert.deepEqual(movies.map(t => t.hash), [hash]);
  });
  await step('qbittorrent torrentProperties / torrentFiles / torrentTrackers / torrentPieceStates', async () => {
    const properties = await client.torrentProperties(hash);
    assert.equal(properties.total_size, 110000);
    const files = await client.torrentFiles(hash);
    assert.equal(files.length, 2);
    assert.ok(Array.isArray(await client.torrentTrackers(hash)));
    const pieces = await client.torrentPieceStates(hash);
    assert.equal(pieces.length, Math.ceil(110000 / 16384));
  });
  await step('qbittorrent setFilePriority', async () => {
    await client.setFilePriority(hash, '1', 0);
    const files = await client.torrentFiles(hash);
    assert.equal(files[1].priority, 0);
  });
  await step('qbittorrent startTorrent / stopTorrent, seen at once', async () => {
    await client.startTorrent(hash);
    assert.notEqual((await client.getTorrent(hash)).state, 'paused');
    await client.stopTorrent(hash);
    assert.equal((await client.getTorrent(hash)).state, 'paused');
  });
  await step('qbittorrent tags: addTorrentTags / removeTorrentTags / getTags', async () => {
    await client.addTorrentTags(hash, 'keep');
    assert.ok((await client.getTags()).includes('keep'));
    await client.removeTorrentTags(hash, 'keep');
    const [info] = await client.listTorrents({ hashes: hash });
    assert.ok(!info.tags.split(',').map(s => s.trim()).includes('keep'));
  });
  await step('qbittorrent renameFile', async () => {
    const [first] = await client.torrentFiles(hash);
    const renamed = first.name.replace(/[^/]*$/, 'first.bin');
    await client.renameFile(hash, first.name, renamed);
    assert.equal((await client.torrentFiles(hash))[0].name, renamed);
  });
  await step('qbittorrent addTrackers / editTrackers (with a tier) / removeTrackers', async () => {
    await client.addTrackers(hash, 'http://127.0.0.1:9/announce');
    await client.editTrackers(hash, 'http://127.0.0.1:9/announce', 'http://127.0.0.1:10/announce', 0);
    const edited = (await client.torrentTrackers(hash)).find(t => t.url.endsWith(':10/announce'));
    assert.equal(edited.tier, 0);
    await client.removeTrackers(hash, 'http://127.0.0.1:10/announce');
    const urls = (await client.torrentTrackers(hash)).map(t => t.url);
    assert.ok(!urls.includes('http://127.0.0.1:10/announce'));
  });
  await step('qbittorrent topPriority / bottomPriority', async () => {
    await client.bottomPriority(hash);
    await client.topPriority(hash);
    const [info] = await client.listTorrents({ hashes: hash });
    assert.equal(info.priority, 1);
  });
  await step('qbittorrent setTorrentDownloadLimit / getTorrentDownloadLimit', async () => {
    await client.setTorrentDownloadLimit(hash, 50000);
    const limits = await client.getTorrentDownloadLimit(hash);
    assert.equal(limits[hash], 50000);
  });
  await step('qbittorrent recheckTorrent / reannounceTorrent', async () => {
    assert.ok(await client.recheckTorrent(hash));
    assert.ok(await client.reannounceTorrent(hash));
    const torrent = await eventually(() => client.getTorrent(hash), t => t.state !== 'checking');
    assert.ok(torrent);
  });
  await step('qbittorrent setTorrentLocation', async () => {
    // The move runs in the background, as qBittorrent's does.
    const target = `${dir}/elsewhere`;
    await client.setTorrentLocation(hash, target);
    const properties = await eventually(
      () => client.torrentProperties(hash),
      p => p.save_path.replace(/\/$/, '') === target,
    );
    assert.equal(properties.save_path.replace(/\/$/, ''), target);
  });
  await step('qbittorrent getSyncMainData: full, then incremental', async () => {
    const full = await client.getSyncMainData(0);
    assert.ok(full.full_update);
    assert.ok(full.torrents[hash]);
    const next = await client.getSyncMainData(full.rid);
    assert.ok(!next.full_update);
  });
  await step('qbittorrent torrentPeers', async () => {
    const peers = await client.torrentPeers(hash);
    assert.equal(typeof peers.rid, 'number');
  });
  await step('qbittorrent removeTorrent (all)', async () => {
    assert.ok(await client.removeTorrent('all', false));
    assert.equal((await client.listTorrents()).length, 0);
  });
  await step('qbittorrent removeCategory', async () => {
    await client.removeCategory('movies');
    assert.equal((await client.getCategories()).movies, undefined);
  });
}

await transmission();
await qbittorrent();
if (failures.length > 0) {
  console.log(`${failures.length} failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('OK');
