import { describeQueueContract } from '../../../test/contract/queue-contract.js';
import { createMemoryQueue } from './memory-queue.js';

describeQueueContract('in-process', async () => createMemoryQueue());
