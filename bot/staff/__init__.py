"""The link worker side: the queue, the case view, claiming and closing cases,
talking to patients through the bot, the team chat, and the audit.

    staff = StaffService(db, messages, directory, settings)
    await staff.handle(StaffInbound(...))   # one staff update, one transaction
"""
