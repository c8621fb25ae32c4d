//! `user reset-password`: ThingsBoard's refusals of a password change reach the user as the
//! reference's friendly messages. The stand-in answers with upstream's wording
//! (thingsboard/thingsboard v4.2.1 application/.../controller/AuthController.java
//! `changePassword`, .../service/security/system/DefaultSystemSecurityService.java).

use secrecy::SecretString;

use crate::env_with;

#[tokio::test]
async fn a_password_equal_to_the_current_one_is_reported_as_such() {
    let e = env_with(|_| {}).await;
    e.fake.fail_with(
        "POST",
        "/api/auth/changePassword",
        400,
        1,
        "New password should be different from existing!",
    );
    let err = e.tb.reset_passwords().await.unwrap_err().to_string();
    insta::assert_snapshot!(err, @"ThingsBoard: New password is the same as the current password.");
}

#[tokio::test]
async fn a_password_refused_by_the_policy_is_reported_as_rejected() {
    let e = env_with(|c| c.sysadmin_password = Some(SecretString::from("Ab1"))).await;
    let err = e.tb.reset_passwords().await.unwrap_err().to_string();
    insta::assert_snapshot!(err, @"ThingsBoard: Password rejected: Password must be 6 or more characters in length.");
}
