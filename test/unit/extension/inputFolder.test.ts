import assert from 'node:assert/strict';
import { chooseUploadName, inputCombos, inputListing, withInputFiles } from '../../../src/extension/inputFolder';
import { checkInputFolder } from '../../../src/extension/settingsResolution';
import { loadCoreCatalog } from '../../../src/workflow/catalog/catalog';

const bytes = (s: string) => new Uint8Array(Buffer.from(s));

describe('input folder (LoadImage, upload button)', () => {
  it('lists images only for LoadImage, .latent files for LoadLatent, every file for LoadImageMask; dot files never', () => {
    const files = ['b.jpg', 'notes.txt', '.hidden.png', 'a.PNG', 'x.latent'];
    assert.deepEqual(inputListing(files, 'images'), ['a.PNG', 'b.jpg']);
    assert.deepEqual(inputListing(files, 'latents'), ['x.latent']);
    assert.deepEqual(inputListing(files, 'all'), ['a.PNG', 'b.jpg', 'notes.txt', 'x.latent']);
    const catalog = loadCoreCatalog();
    const info = withInputFiles(catalog, files);
    assert.deepEqual(info.LoadImage!.input.required!.image![0], ['a.PNG', 'b.jpg']);
    assert.equal(info.LoadImage!.input.required!.image![1]!.image_upload, true, 'options kept');
    assert.deepEqual(info.LoadImageMask!.input.required!.image![0], ['a.PNG', 'b.jpg', 'notes.txt', 'x.latent']);
    assert.deepEqual(info.LoadLatent!.input.required!.latent![0], ['x.latent']);
    assert.deepEqual(catalog.LoadImage!.input.required!.image![0], [], 'the catalogue itself is not modified');
    assert.equal(info.KSampler, catalog.KSampler, 'other entries are shared, not copied');
    assert.deepEqual(inputCombos(loadCoreCatalog()).map((c) => `${c.classType}.${c.input}:${c.filter}`).sort(),
      ['LoadImage.image:images', 'LoadImageMask.image:all', 'LoadLatent.latent:latents']);
  });

  it('chooses names as ComfyUI does: free name, reuse of identical bytes, else "name (n).ext"', async () => {
    const folder = new Map([['cat.png', bytes('A')], ['cat (1).png', bytes('B')]]);
    const read = async (n: string) => folder.get(n);
    assert.deepEqual(await chooseUploadName('dog.png', bytes('A'), read), { name: 'dog.png', reuse: false });
    assert.deepEqual(await chooseUploadName('cat.png', bytes('A'), read), { name: 'cat.png', reuse: true });
    assert.deepEqual(await chooseUploadName('cat.png', bytes('B'), read), { name: 'cat (1).png', reuse: true });
    assert.deepEqual(await chooseUploadName('cat.png', bytes('C'), read), { name: 'cat (2).png', reuse: false });
    assert.deepEqual(await chooseUploadName('README', bytes('C'), read), { name: 'README', reuse: false });
    await assert.rejects(chooseUploadName('..', bytes('C'), read), /Upload: "\.\." is not a usable file name/);
  });

  it('marble.inputFolder stays inside the workspace', () => {
    assert.equal(checkInputFolder('input'), 'input');
    assert.equal(checkInputFolder('./assets/in/'), 'assets/in');
    assert.throws(() => checkInputFolder('../elsewhere'), /marble\.inputFolder: "\.\.\/elsewhere" must stay inside the workspace/);
    assert.throws(() => checkInputFolder('/tmp/in'), /marble\.inputFolder/);
    assert.throws(() => checkInputFolder(''), /marble\.inputFolder: expected a folder path/);
  });
});
