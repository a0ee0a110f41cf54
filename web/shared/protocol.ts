// Generated from the Rust wire types by crates/server/src/typescript.rs. Do not edit:
// run `UPDATE_TYPESCRIPT=1 cargo test -p switchboard-server --test typescript`.

export type AgentId = string;

export type ConversationId = string;

export type QueueId = string;

export type AssetId = string;

export type IdleCodeId = string;

export type WrapUpReasonId = string;

export type TemplateId = string;

export type Timestamp = number;

export type CustomerInfo = { name?: string, email?: string, phone?: string, 
/**
 * Free pre-chat fields, by the form's field name.
 */
fields: { [key in string]?: string }, 
/**
 * The verified identity (the `sub` of a signed identity token), if any.
 */
identity?: string, };

export type Sender = { "kind": "customer" } | { "kind": "agent", agent_id: AgentId, name: string, };

export type QueueReason = "arrived" | "offer_timed_out" | "offer_withdrawn" | "agent_logged_out" | "transferred" | "transfer_rejected";

export type WithdrawReason = "customer_left" | "agent_disconnected" | "interrupted";

export type CloseReason = "customer_ended" | "customer_left" | "interrupted";

export type AbandonReason = "customer_ended" | "customer_gone";

export type ConversationEvent = { "type": "started", asset_id: AssetId, asset_name: string, customer: CustomerInfo, 
/**
 * The conversation's variables: pre-chat answers, the page, the system's own.
 */
variables: { [key in string]?: string }, proactive: boolean, } | { "type": "queued", queue_id: QueueId, queue_name: string, priority: number, 
/**
 * Its place in the line: the original arrival time, or the transfer time.
 */
front_at: Timestamp, reason: QueueReason, } | { "type": "offered", agent_id: AgentId, agent_name: string, deadline: Timestamp, 
/**
 * Offered because the owner transferred it to this agent.
 */
transfer: boolean, } | { "type": "offer_timed_out", agent_id: AgentId, } | { "type": "offer_withdrawn", agent_id: AgentId, reason: WithdrawReason, } | { "type": "accepted", agent_id: AgentId, agent_name: string, } | { "type": "message", sender: Sender, text: string, template?: string, } | { "type": "customer_connected", connection_id: string, } | { "type": "customer_disconnected", connection_id: string, } | { "type": "closed", reason: CloseReason, } | { "type": "agent_left", agent_id: AgentId, agent_name: string, 
/**
 * `true` when the agent was logged out by the system, not by their own click.
 */
by_system: boolean, } | { "type": "ended" } | { "type": "wrapped_up", agent_id: AgentId, reason_id: WrapUpReasonId, reason_name: string, 
/**
 * Submitted by the system (auto wrap-up, or the agent was logged out).
 */
auto: boolean, } | { "type": "abandoned", reason: AbandonReason, } | { "type": "transfer_requested", agent_id: AgentId, agent_name: string, target: TransferTarget, } | { "type": "transfer_accepted", agent_id: AgentId, agent_name: string, } | { "type": "transfer_rejected", agent_id: AgentId, } | { "type": "conference_requested", agent_id: AgentId, agent_name: string, deadline: Timestamp, } | { "type": "conference_joined", agent_id: AgentId, agent_name: string, } | { "type": "conference_withdrawn", agent_id: AgentId, } | { "type": "conference_cancelled", agent_id: AgentId, } | { "type": "conference_left", agent_id: AgentId, agent_name: string, } | { "type": "owner_changed", agent_id: AgentId, agent_name: string, } | { "type": "interrupted" };

export type Presence = { "state": "available" } | { "state": "idle", code_id?: IdleCodeId, code_name?: string, } | { "state": "rona" } | { "state": "logged_out" };

export type AgentCommandFrame = { "type": "hello", token: string, resume: Record<string, number>, } | { "type": "set_presence", id: string, 
/**
 * `available` or `idle`.
 */
presence: string, idle_code_id?: IdleCodeId, } | { "type": "accept", id: string, conversation_id: ConversationId, } | { "type": "send", id: string, conversation_id: ConversationId, text: string, } | { "type": "send_template", id: string, conversation_id: ConversationId, template: string, } | { "type": "typing", conversation_id: ConversationId, } | { "type": "end", id: string, conversation_id: ConversationId, } | { "type": "wrap_up", id: string, conversation_id: ConversationId, reason_id: WrapUpReasonId, } | { "type": "sync", id: string, conversation_id: ConversationId, after_seq: number, } | { "type": "sign_out", id: string, } | { "type": "ping" } | { "type": "transfer", id: string, conversation_id: ConversationId, queue_id?: QueueId, agent_id?: AgentId, } | { "type": "invite", id: string, conversation_id: ConversationId, agent_id: AgentId, } | { "type": "cancel_invitation", id: string, conversation_id: ConversationId, } | { "type": "leave", id: string, conversation_id: ConversationId, };

export type CustomerCommandFrame = { "type": "hello", token: string, last_seq: number, } | { "type": "send", id: string, text: string, } | { "type": "typing" } | { "type": "end", id: string, } | { "type": "ping" };

export type ServerFrame = { "type": "snapshot", agent: AgentView, offer: OfferView | null, chats: Array<ChatView>, } | { "type": "welcome", conversation_id: ConversationId, status: string, head_seq: number, 
/**
 * Chats ahead in line (0: next), while waiting.
 */
position: number | null, } | { "type": "offer", offer: OfferView, } | { "type": "offer_ended", conversation_id: ConversationId, reason: string, } | { "type": "presence", agent: AgentView, } | { "type": "position", conversation_id: ConversationId, position: number, } | { "type": "typing", conversation_id: ConversationId, 
/**
 * `customer`, or the agent's name.
 */
from: string, } | { "type": "ack", id: string, seq?: number, } | { "type": "error", id?: string, code: string, message: string, } | { "type": "pong" };

export type EventFrame = { type: string, conversation_id: ConversationId, seq: number, at: number, event: ConversationEvent, };

export type OfferView = { 
/**
 * `chat` (routing), `transfer` (the owner transferred it to you), `conference` (an
 * invitation to join the owner).
 */
kind: string, conversation_id: ConversationId, customer_name: string, customer: CustomerInfo, queue_id: QueueId, queue_name: string, agent_name: string, 
/**
 * When the offer was made (the pop-over's date), ms since the epoch.
 */
offered_at: number, 
/**
 * When the chat arrived (the pop-over's timer counts from it).
 */
arrived_at: number, 
/**
 * When the offer runs out.
 */
deadline: number, proactive: boolean, variables: { [key in string]?: string }, 
/**
 * The messages so far.
 */
messages: Array<MessageView>, };

export type MessageView = { seq: number, at: number, sender: Sender, text: string, };

export type ChatView = { conversation_id: ConversationId, 
/**
 * `active`, `closed` (nobody can send; End it), `ended` or ... (see protocol.md).
 */
status: string, 
/**
 * What the chat's controls show: `active`, `conference_requested`, `conference`,
 * `closed`, `ended`.
 */
control: string, 
/**
 * The owner, while it is active.
 */
owner?: AgentId, 
/**
 * The agents in it (owner first).
 */
agents: Array<AgentId>, 
/**
 * The conversation's last `seq`.
 */
head_seq: number, 
/**
 * The agent owes a wrap-up for it.
 */
wrap_up_pending: boolean, customer_name: string, customer: CustomerInfo, queue_name: string, arrived_at: number, proactive: boolean, variables: { [key in string]?: string }, };

export type AgentView = { agent_id: AgentId, name: string, presence: Presence, presence_since: number, 
/**
 * Shown while the agent has chats open.
 */
engaged: boolean, capacity: number, load: number, };

export type SignIn = { email: string, password: string, };

export type SessionCreated = { token: string, expires_at: string, account: Account, };

export type Me = { account: Account, agent: AgentView, };

export type QueueSummary = { id: QueueId, name: string, };

export type HistoryEvent = { seq: number, at: number, event: ConversationEvent, };

export type PastConversation = { conversation_id: ConversationId, arrived_at: number, status: string, queue_name: string, asset_name: string, messages: Array<MessageView>, };

export type AvailableAgent = { id: AgentId, name: string, load: number, capacity: number, };

export type WidgetConfig = { asset_id: AssetId, name: string, title: string, greeting: string, prechat_fields: Array<PrechatField>, };

export type StartRequest = { name?: string, email?: string, phone?: string, 
/**
 * Free pre-chat fields.
 */
fields: { [key in string]?: string }, 
/**
 * The page the chat started from.
 */
page_url?: string, 
/**
 * Started from a proactive invitation.
 */
proactive: boolean, 
/**
 * A token signed by the website with the asset's secret (see docs/protocol.md).
 */
identity_token?: string, };

export type Started = { conversation_id: ConversationId, 
/**
 * The customer's token for this conversation: shown once, stored only as a hash.
 */
token: string, };

export type NewAgent = { email: string, name: string, password: string, role?: Role, capacity?: number, };

export type AgentUpdate = { email?: string, name?: string, password?: string, role?: Role, capacity?: number, };

export type Account = { id: AgentId, email: string, name: string, role: Role, capacity: number, };

export type Role = "agent" | "supervisor" | "administrator";

export type Asset = { id: AssetId, name: string, 
/**
 * The queue its chats enter.
 */
queue_id: QueueId, 
/**
 * Signs identity tokens (HMAC-SHA256). Never shown to agents.
 */
secret: string, allowed_origins: Array<string>, prechat_fields: Array<PrechatField>, 
/**
 * How long an answered customer may stay away before the chat is closed.
 */
inactivity_timeout_secs: number, title: string, greeting: string, };

export type PrechatField = { 
/**
 * `name`, `email`, `phone`, or a free field's key.
 */
key: string, label: string, required: boolean, };

export type Queue = { id: QueueId, name: string, 
/**
 * How long an offered agent has to accept (5 s to 30 min).
 */
offer_timeout_secs: number, 
/**
 * Higher first.
 */
priority: number, 
/**
 * The agents who serve it.
 */
agent_ids: Array<AgentId>, };

export type IdleCode = { id: IdleCodeId, name: string, };

export type WrapUpReason = { id: WrapUpReasonId, name: string, };

export type Template = { id: TemplateId, name: string, 
/**
 * Text with `<parameter>` placeholders, filled when sent; may contain line breaks.
 */
body: string, };

export type DesktopProfile = { 
/**
 * Mask customer sensitive data on every agent-facing surface.
 */
mask_sensitive_data: boolean, 
/**
 * Mask card numbers, IBANs and SSNs before they are stored.
 */
redact_payment_at_rest: boolean, 
/**
 * Submit the default reason this long after an agent leaves a chat; off when absent.
 */
auto_wrapup_secs: number | null, 
/**
 * The reason the system submits (auto wrap-up, agent logged out).
 */
default_wrapup_reason_id: WrapUpReasonId | null, default_capacity: number, 
/**
 * How long an agent's desktop may be gone before the agent is logged out.
 */
signout_grace_secs: number, 
/**
 * How long a waiting customer who disconnected keeps their place.
 */
customer_grace_secs: number, 
/**
 * The region (ISO 3166 alpha-2, such as `US` or `DE`) whose national phone numbers are
 * masked too; numbers in international form (`+…`) are masked whatever it is.
 */
phone_region: string | null, };
