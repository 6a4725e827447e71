import assert from 'node:assert/strict';
import { workflowFilePath } from '../../../src/extension/workflowFileName';

describe('workflowFilePath', () => {
  it('gives every typed name exactly one .workflow.json', () => {
    assert.equal(workflowFilePath('/ws/mine'), '/ws/mine.workflow.json');
    assert.equal(workflowFilePath('/ws/mine.json'), '/ws/mine.workflow.json');
    assert.equal(workflowFilePath('/ws/mine.workflow.json'), '/ws/mine.workflow.json');
    assert.equal(workflowFilePath('/ws/mine.json.workflow.json'), '/ws/mine.workflow.json');
    assert.equal(workflowFilePath('/ws/mine.workflow'), '/ws/mine.workflow.json');
    assert.equal(workflowFilePath('/ws/my.scene'), '/ws/my.scene.workflow.json', 'other dots stay');
    assert.equal(workflowFilePath('/ws/.json'), '/ws/.json.workflow.json', 'never an empty base name');
  });
});
