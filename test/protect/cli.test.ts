// The protection commands (`nnlock protect <verb>`), run in-process through runCli on a tiny model;
// the last tests run the 0.1 spellings, which must keep working with a note on stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { runCli } from '../helpers/cli.ts';
import { buildProgram } from '../../src/cli/main.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { fileOf, sameBytes, tinyNet } from './fixtures.ts';
import { defaultKeysPath } from '../../src/protect/index.ts';
import { decodeKeyToken, encodeKeyToken } from '../../src/crypto/index.ts';

const checkLeaks = trackLeaks();
let dir = '';
let modelPath = '';
const p = (name: string) => path.join(dir, name);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cli-'));
  modelPath = p('tiny.safetensors');
  const model = tinyNet(3);
  const file = fileOf(model, { note: 'tiny' });
  model.dispose();
  await writeSafetensors(modelPath, file.tensors, file.metadata);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('every protect verb has --help, --json and --quiet', () => {
  const noun = buildProgram().commands.find((x) => x.name() === 'protect')!;
  for (const verb of ['importance', 'lock', 'unlock', 'keys', 'info']) {
    const c = noun.commands.find((x) => x.name() === verb);
    assert.ok(c, verb);
    const help = c.helpInformation();
    assert.match(help, new RegExp(`Usage: nnlock protect ${verb} \\[options\\] <`));
    assert.match(help, /--json/);
    assert.match(help, /--quiet/);
    assert.doesNotMatch(help, /-t,|-k,|-i,/);
  }
});

test('lock → key file (0600, outside the folder) → unlock bit-identical → keys for a lower tier', async () => {
  const r = await runCli(['protect', 'lock', modelPath, '-r', '0.2', '--tiers', '3', '-o', p('prot.safetensors')], { NNLOCK_KEYS_DIR: p('keys-home') });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /protected \d+ of 152 kernels in 2 conv layers/);
  assert.match(r.out, /tier 3: restores/);
  assert.doesNotMatch(r.out + r.err, /nnlock1-/); // keys never printed by lock
  // By default the keys go outside the published folder (publishing it must not publish them).
  const keyFile = defaultKeysPath(p('prot.safetensors'), p('keys-home'));
  assert.ok(r.out.includes(`keys (mode 0600, keep the master key safe): ${keyFile}`), r.out);
  assert.ok(!fs.existsSync(p('prot.safetensors.keys')));
  assert.doesNotMatch(r.err, /warning/);
  fs.copyFileSync(keyFile, p('prot.safetensors.keys')); // where the tests below look for it
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(keyFile, 'utf8').match(/nnlock1-t\d-/g)!.length, 3);

  const again = await runCli(['protect', 'lock', modelPath, '-r', '0.2', '-o', p('prot.safetensors')], { NNLOCK_KEYS_DIR: p('keys-home') });
  assert.equal(again.code, 1);
  assert.match(again.err, /exists \(use --force/);

  const dry = await runCli(['protect', 'unlock', p('prot.safetensors'), '--keys', keyFile]);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /key accepted \(tier 3 of 3\)/);
  assert.match(dry.out, /nothing written/);

  const u = await runCli(['protect', 'unlock', p('prot.safetensors'), '--keys', keyFile, '-o', p('unlocked.safetensors'), '--json']);
  assert.equal(u.code, 0, u.err);
  const signer = JSON.parse((await runCli(['protect', 'info', p('prot.safetensors'), '--json'])).out).signer;
  assert.match(signer, /^ed25519:[0-9a-f]{64}$/);
  assert.deepEqual(JSON.parse(u.out), {
    tier: 3,
    tiers: 3,
    keyTier: 3,
    restored: JSON.parse(u.out).restored,
    signed: true,
    signer,
    signerPinned: true,
    out: p('unlocked.safetensors'),
    metric: null,
  });
  const [orig, back] = await Promise.all([readSafetensors(modelPath), readSafetensors(p('unlocked.safetensors'))]);
  for (const [name, e] of orig.tensors) assert.ok(sameBytes(back.tensors.get(name)!.data, e.data), name);
  assert.deepEqual(back.metadata, orig.metadata);

  const k = await runCli(['protect', 'keys', p('prot.safetensors'), '--keys', keyFile, '--tier', '1', '-o', p('user.keys')]);
  assert.equal(k.code, 0, k.err);
  assert.equal(fs.statSync(p('user.keys')).mode & 0o777, 0o600);
  const low = await runCli(['protect', 'unlock', p('prot.safetensors'), '--keys', p('user.keys')]);
  assert.match(low.out, /key accepted \(tier 1 of 3\)/);
  const high = await runCli(['protect', 'unlock', p('prot.safetensors'), '--keys', p('user.keys'), '--tier', '2', '-o', p('nope.safetensors')]);
  assert.equal(high.code, 1);
  assert.match(high.err, /tier-1 key cannot unlock tier 2/);
  assert.ok(!fs.existsSync(p('nope.safetensors')));
  const printed = await runCli(['protect', 'keys', p('prot.safetensors'), '--keys', keyFile]);
  assert.equal(printed.out.match(/^tier \d: nnlock1-t\d-/gm)!.length, 3);
  const token = printed.out.match(/^tier 2: (\S+)/m)![1];
  const byToken = await runCli(['protect', 'unlock', p('prot.safetensors'), '--token', token, '-q']);
  assert.match(byToken.out, /tier 2 restores/);
  assert.equal(byToken.err, '');
  const byEnv = await runCli(['protect', 'unlock', p('prot.safetensors')], { NNLOCK_KEY: token });
  assert.match(byEnv.out, /key accepted \(tier 2 of 3\)/);

  const info = await runCli(['protect', 'info', p('prot.safetensors')]);
  assert.match(info.out, /format nnlock-protect v3/);
  assert.ok(info.out.includes(`signed by ${signer}: signature valid`), info.out);
  assert.match((await runCli(['protect', 'info', p('prot.safetensors'), '--signer', signer])).out, /the signer you pinned/);
  assert.match(r.out, new RegExp(`owner's signer.*${signer}`));
  assert.match(info.out, /tiers: 3/);
  assert.match(info.out, /conv1.weight \[8×3×3×3\]/);
  assert.equal(JSON.parse((await runCli(['protect', 'info', p('prot.safetensors'), '--json'])).out).tiers, 3);
});

test('signatures on the command line: a wrong --signer, edited metadata and unpinned keys', async () => {
  const r = await runCli(['protect', 'lock', modelPath, '-r', '0.2', '--tiers', '2', '-o', p('s.safetensors'), '--keys', p('s.keys')]);
  assert.equal(r.code, 0, r.err);
  const other = `ed25519:${'ab'.repeat(32)}`;
  for (const args of [
    ['protect', 'info', p('s.safetensors'), '--signer', other],
    ['protect', 'unlock', p('s.safetensors'), '--keys', p('s.keys'), '--signer', other],
    ['model', 'eval', '-w', p('s.safetensors'), '--keys', p('s.keys'), '--signer', other, '-d', p('nowhere')],
  ]) {
    const bad = await runCli(args);
    assert.equal(bad.code, 1, args.join(' '));
    assert.match(bad.err, /not by the expected owner ed25519:abab/);
  }
  // Metadata edited after protection (here the architecture): refused with and without a key.
  const file = await readSafetensors(p('s.safetensors'));
  await writeSafetensors(p('s-edited.safetensors'), file.tensors, { ...file.metadata, note: 'edited' });
  for (const args of [
    ['protect', 'info', p('s-edited.safetensors')],
    ['protect', 'unlock', p('s-edited.safetensors'), '--keys', p('s.keys')],
    ['model', 'eval', '-w', p('s-edited.safetensors'), '-d', p('nowhere')], // tier 0 relies on the metadata too
  ]) {
    const bad = await runCli(args);
    assert.equal(bad.code, 1, args.join(' '));
    assert.match(bad.err, /signature does not verify/);
  }
  // A bare token (nnlock 0.2's, no signer) still unlocks, with a warning that nothing pins the owner.
  const master = decodeKeyToken(fs.readFileSync(p('s.keys'), 'utf8').match(/tier 2 \(master\): (\S+)/)![1]);
  const bare = await runCli(['protect', 'unlock', p('s.safetensors'), '--token', encodeKeyToken({ tier: master.tier, key: master.key })]);
  assert.equal(bare.code, 0, bare.err);
  assert.match(bare.err, /warning: signed by ed25519:[0-9a-f]{64}, but nothing pins the owner/);
});

test('clear errors: wrong key, malformed token, missing files, wrong architecture, usage errors exit 2', async () => {
  // Keys asked for beside the model: written, with a warning that says why that is risky.
  const beside = await runCli(['protect', 'lock', modelPath, '-o', p('e.safetensors'), '--keys', p('e.safetensors.keys'), '--force']);
  assert.equal(beside.code, 0, beside.err);
  assert.match(beside.err, /warning: the key file .*e\.safetensors\.keys is in the folder of the protected model: do not publish that folder/);
  // A token given where the key FILE goes is refused without being echoed.
  const token = fs.readFileSync(p('e.safetensors.keys'), 'utf8').match(/nnlock1-\S+/)![0];
  const pasted = await runCli(['protect', 'unlock', p('e.safetensors'), '--keys', token]);
  assert.equal(pasted.code, 2);
  assert.match(pasted.err, /--keys expects a key file, but got what looks like a key token/);
  assert.ok(!pasted.err.includes(token.slice(12)), 'the token is not echoed');
  // A folder (or a FIFO, a device) as the key file is refused before it is read.
  assert.match((await runCli(['protect', 'unlock', p('e.safetensors'), '--keys', dir])).err, /key file .* is a folder, not a regular file/);
  const unlock = (...a: string[]) => runCli(['protect', 'unlock', ...a]);
  const lock = (...a: string[]) => runCli(['protect', 'lock', modelPath, ...a]);
  const wrong = await unlock(p('e.safetensors'), '--keys', p('prot.safetensors.keys'), '-o', p('e-out.safetensors'));
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /wrong key/);
  assert.ok(!fs.existsSync(p('e-out.safetensors')));
  assert.match((await unlock(p('e.safetensors'), '--token', 'nnlock1-t1-tooshort-00000000')).err, /malformed key token/);
  const none = await unlock(p('e.safetensors'));
  assert.equal(none.code, 2);
  assert.match(none.err, /no key given/);
  assert.equal((await unlock(p('e.safetensors'), '--token', 'x', '--keys', 'y')).code, 2);
  assert.match((await unlock(p('missing.safetensors'), '--token', 'x')).err, /missing.safetensors: no such file/);
  assert.match((await unlock(p('e.safetensors'), '--keys', p('missing.keys'))).err, /cannot read key file .*no such file/);
  assert.match((await unlock(modelPath, '--keys', p('e.safetensors.keys'))).err, /not a protected model/);
  assert.match((await runCli(['protect', 'lock', p('e.safetensors'), '-o', p('ee.safetensors')])).err, /already protected/);
  assert.match((await lock('-a', 'resnet20', '-o', p('x.safetensors'))).err, /does not fit this model.*missing/);
  assert.match((await lock('-a', 'resnet7', '-o', p('x.safetensors'))).err, /unknown architecture 'resnet7'/);
  const ratio = await lock('-r', '1.5', '-o', p('x.safetensors'));
  assert.equal(ratio.code, 2);
  assert.match(ratio.err, /must be a number in \[0, 1\)/);
  assert.equal((await lock('--tiers', '0', '-o', p('x.safetensors'))).code, 2);
  assert.match((await lock('--layers', 'head', '-o', p('x.safetensors'))).err, /cannot protect layer 'head'/);
  assert.match((await lock('-s', 'pss', '-d', dir, '-o', p('x.safetensors'))).err, /does not say its architecture/);
  assert.equal((await lock('-s', 'pss', '-o', p('x.safetensors'))).code, 2);
  assert.equal((await lock('--fractions', '0.5,1', '--targets', '0.5', '-o', p('x.safetensors'))).code, 2);
  assert.match((await runCli(['protect', 'importance', modelPath, '-s', 'pss', '-d', dir, '-o', p('x.safetensors')])).err, /does not say its architecture/);
  const bogus = await runCli(['protect', 'importance', modelPath, '-s', 'bogus', '-o', p('x.safetensors')]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /must be one of pss/);
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('importance file → lock --importance', async () => {
  const i = await runCli(['protect', 'importance', modelPath, '-s', 'magnitude', '-o', p('imp.safetensors')]);
  assert.equal(i.code, 0, i.err);
  assert.match(i.out, /magnitude importance of 2 conv layers \(152 kernels\)/);
  const r = await runCli(['protect', 'lock', modelPath, '--importance', p('imp.safetensors'), '-r', '0.1', '--tiers', '2', '--fractions', '0.5,1', '-o', p('i.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.match(j.strategy, /^magnitude \(from/);
  assert.equal(j.tiers[1].fraction, 0.5);
  assert.equal(j.tiers.length, 3);
  assert.ok(!('tokens' in j) && !r.out.includes('nnlock1-'));
  // An importance file of some layers protects those layers.
  await runCli(['protect', 'importance', modelPath, '-s', 'l1', '--layers', 'conv2', '-o', p('imp2.safetensors')]);
  const only = await runCli(['protect', 'lock', modelPath, '--importance', p('imp2.safetensors'), '--tiers', '2', '-o', p('i2.safetensors')]);
  assert.equal(only.code, 0, only.err);
  assert.match(only.out, /in 1 conv layer \(/);
  assert.match((await runCli(['protect', 'info', p('i2.safetensors')])).out, /protected conv layers \(1\): conv2.weight/);
  // An importance file of other weights is refused.
  const other = tinyNet(4);
  const f = fileOf(other);
  other.dispose();
  await writeSafetensors(p('other.safetensors'), f.tensors, f.metadata);
  const mismatch = await runCli(['protect', 'lock', p('other.safetensors'), '--importance', p('imp.safetensors'), '-o', p('o.safetensors')]);
  assert.match(mismatch.err, /computed on other weights/);
});

test('0.1 spellings still work, with a note on stderr: protect MODEL -t -k, unlock -k -t, keys --key, importance, protect-info', async () => {
  const r = await runCli(['protect', modelPath, '-r', '0.2', '-t', '2', '-k', p('old.keys'), '-o', p('old.safetensors')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`nnlock protect` is now `nnlock protect lock`/);
  assert.match(r.err, /`-t` of `nnlock protect` is now `--tiers`/);
  assert.ok(fs.existsSync(p('old.keys')));
  const u = await runCli(['unlock', p('old.safetensors'), '-k', p('old.keys'), '-t', '1']);
  assert.equal(u.code, 0, u.err);
  assert.match(u.err, /`nnlock unlock` is now `nnlock protect unlock`/);
  assert.match(u.out, /tier 1 restores/);
  const token = fs.readFileSync(p('old.keys'), 'utf8').match(/nnlock1-t2-\S+/)![0];
  const k = await runCli(['keys', p('old.safetensors'), '--key', token, '-t', '1']);
  assert.equal(k.code, 0, k.err);
  assert.match(k.err, /`--key` of `nnlock keys` is now `--token`/);
  assert.match(k.out, /^tier 1: nnlock1-t1-/m);
  const i = await runCli(['importance', modelPath, '-s', 'l1', '-o', p('old-imp.safetensors')]);
  assert.equal(i.code, 0, i.err);
  assert.match(i.err, /`nnlock importance` is now `nnlock protect importance`/);
  const info = await runCli(['protect-info', p('old.safetensors'), '--json']);
  assert.equal(info.code, 0, info.err);
  assert.equal(JSON.parse(info.out).tiers, 2);
  assert.match(info.err, /is now `nnlock protect info`/);
});

test('leaks no tensors', checkLeaks);
