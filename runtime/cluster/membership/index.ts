/** Worker group membership through Kafka's group coordinator; see group-member.ts. */
export type { GroupMemberOptions, LeaderState } from './group-member.ts';
export { GroupMember } from './group-member.ts';
export type { Assignment, MemberMetadata } from './protocol.ts';
export { PROTOCOL_NAME, PROTOCOL_TYPE, decodeAssignment, decodeMetadata, encodeAssignment, encodeMetadata } from './protocol.ts';
