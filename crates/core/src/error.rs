//! The domain's refusals. Each has a stable code (documented in docs/protocol.md) that the
//! gateway puts on the wire unchanged.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error("the message is empty")]
    MessageEmpty,
    #[error("the message has {chars} characters; the limit is 1000")]
    MessageTooLong { chars: usize },
    #[error("the message contains a control character (only line breaks are allowed)")]
    MessageControlCharacter,
    #[error("agents may not send '<' or '>': they are reserved for template parameters")]
    MessageReservedCharacter,
    #[error("the template's filled-in text is not a valid message")]
    TemplateInvalid,
    #[error("there is no such conversation")]
    ConversationNotFound,
    #[error("the conversation is closed: nobody can send on it")]
    ConversationClosed,
    #[error("the conversation has ended")]
    ConversationEnded,
    #[error("you are not in this conversation")]
    NotInConversation,
    #[error("only the owner of the conversation can do this")]
    NotOwner,
    #[error("there is no pending offer of this conversation to you (it timed out, was withdrawn or went to someone else)")]
    NoSuchOffer,
    #[error("the conversation is not in a state that allows this")]
    WrongConversationState,
    #[error("you have no wrap-up pending for this conversation")]
    NoWrapUpPending,
    #[error("the agent is not available for an offer")]
    AgentNotAvailable,
    #[error("the agent has no room for another chat")]
    AgentAtCapacity,
    #[error("the agent already has an offer pending")]
    OfferAlreadyPending,
    #[error("you cannot sign out with chats open or wrap-ups pending; end, transfer or wrap them up first")]
    ChatsOpen,
    #[error("the agent is logged out")]
    LoggedOut,
    #[error("an idle code is required to go Idle")]
    IdleCodeRequired,
    #[error("capacity must be between 1 and 20")]
    InvalidCapacity,
    #[error("nothing is due")]
    NothingDue,
    #[error("not while another agent is in the chat (a conference): only the owner alone can transfer or invite")]
    ConferenceInProgress,
    #[error("an invitation is already pending: one at a time")]
    InvitationPending,
    #[error("there is no pending invitation")]
    NoInvitation,
    #[error("you cannot transfer to or invite yourself")]
    CannotTargetSelf,
    #[error("you are not in a conference: End ends the chat")]
    NotInConference,
}

impl DomainError {
    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        use DomainError::*;
        match self {
            MessageEmpty => "message_empty",
            MessageTooLong { .. } => "message_too_long",
            MessageControlCharacter => "message_control_character",
            MessageReservedCharacter => "message_reserved_character",
            TemplateInvalid => "template_invalid",
            ConversationNotFound => "conversation_not_found",
            ConversationClosed => "conversation_closed",
            ConversationEnded => "conversation_ended",
            NotInConversation => "not_in_conversation",
            NotOwner => "not_owner",
            NoSuchOffer => "no_such_offer",
            WrongConversationState => "wrong_conversation_state",
            NoWrapUpPending => "no_wrap_up_pending",
            AgentNotAvailable => "agent_not_available",
            AgentAtCapacity => "agent_at_capacity",
            OfferAlreadyPending => "offer_already_pending",
            ChatsOpen => "chats_open",
            LoggedOut => "logged_out",
            IdleCodeRequired => "idle_code_required",
            InvalidCapacity => "invalid_capacity",
            NothingDue => "nothing_due",
            ConferenceInProgress => "conference_in_progress",
            InvitationPending => "invitation_pending",
            NoInvitation => "no_invitation",
            CannotTargetSelf => "cannot_target_self",
            NotInConference => "not_in_conference",
        }
    }
}
